/*
 * Fuzz target: the name parser. Any byte string must give either a parsed
 * name whose parts satisfy the grammar, or -EINVAL with a detail; never a
 * crash, an overread or a leak.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) \
    do {           \
        if (!(c))  \
            abort(); \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const allowed[] = { "proj", "stream", "perm", NULL };
    char *text = malloc(size + 1);
    ipckit_name *n = NULL;
    long v;
    int rc;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    rc = ipckit_name_parse(text, &n);
    if (rc < 0) {
        REQUIRE(rc == -EINVAL || rc == -ENOMEM);
        REQUIRE(n == NULL);
        REQUIRE(rc == -ENOMEM || ipckit_error_detail()[0] != '\0');
        free(text);
        return 0;
    }
    REQUIRE(n != NULL);
    const char *scheme = ipckit_name_scheme(n);
    REQUIRE(scheme[0] >= 'a' && scheme[0] <= 'z' && strlen(scheme) < 32);
    REQUIRE(ipckit_name_target(n)[0] != '\0');
    REQUIRE(strcmp(ipckit_name_text(n), text) == 0);
    REQUIRE(strncmp(text, scheme, strlen(scheme)) == 0 && text[strlen(scheme)] == ':');
    for (size_t i = 0; i < ipckit_name_param_count(n); i++) {
        const char *k = ipckit_name_param_key(n, i);
        REQUIRE(k != NULL && k[0] != '\0');
        REQUIRE(ipckit_name_param(n, k) == ipckit_name_param_value(n, i));
    }
    REQUIRE(ipckit_name_param_key(n, ipckit_name_param_count(n)) == NULL);
    (void) ipckit_name_check_params(n, allowed);
    (void) ipckit_name_param_long(n, "proj", 1, 255, 'i', &v);
    /* ftok would stat arbitrary paths; only numeric keys are derived here */
    if (ipckit_name_target(n)[0] >= '0' && ipckit_name_target(n)[0] <= '9') {
        key_t k;
        (void) ipckit_name_sysv_key(n, &k);
    }
    ipckit_name_free(n);
    free(text);
    return 0;
}

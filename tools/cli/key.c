/*
 * ipckit(1): "ipckit key NAME...": the System V key of a name (a sysvshm:
 * name has two: its segment's and its semaphore set's).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>

#include "cli.h"

int
cli_key(int argc, char **argv)
{
    int worst = CLI_OK;
    int i = 1;
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    if (i >= argc) {
        cli_err("no NAME; usage: ipckit key NAME...");
        return CLI_USAGE;
    }
    for (; i < argc; i++) {
        ipckit_name *n = NULL;
        key_t key;
        int rc = ipckit_name_parse(argv[i], &n);
        if (rc < 0) {
            cli_err("%s: %s", argv[i], cli_detail(ipckit_error_detail(), argv[i]));
            worst = CLI_USAGE;
            continue;
        }
        if (strcmp(ipckit_name_scheme(n), "sysvshm") == 0) {
            /* PHP's two objects: shm_attach()'s segment, sem_get()'s set */
            key_t sem;
            rc = ipckit_region_sysv_keys(argv[i], &key, &sem);
            if (rc == 0) {
                (void) printf("0x%08x\t%s\tsegment\n", (unsigned) key, argv[i]);
                (void) printf("0x%08x\t%s\tsemaphore\n", (unsigned) sem, argv[i]);
                ipckit_name_free(n);
                continue;
            }
        } else {
            rc = ipckit_name_sysv_key(n, &key);
        }
        if (rc < 0) {
            int code = rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
            (void) cli_report(argv[i], NULL, rc, ipckit_error_detail());
            if (code > worst)
                worst = code;
        } else {
            (void) printf("0x%08x\t%s\n", (unsigned) key, argv[i]);
        }
        ipckit_name_free(n);
    }
    return worst;
}


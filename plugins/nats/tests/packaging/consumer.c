/*
 * A program built against an installed libipckit-nats, with pkg-config
 * (ipckit-nats) or CMake (find_package(ipckit COMPONENTS nats)). With
 * AUTOLOAD defined it links libipckit alone and relies on the plug-in
 * being loaded for the first nats: name. Given a server URL
 * (nats://127.0.0.1:PORT), it sends and receives a message through it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>
#ifndef AUTOLOAD
#include <ipckit/nats.h>
#endif

#define FAIL(...)                                                                          \
    do {                                                                                   \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fputc('\n', stderr);                                                               \
        return 1;                                                                          \
    } while (0)

int
main(int argc, char **argv)
{
    ipckit_channel *ch = NULL;
    char name[256], buf[16];
    long type = 0;
    int rc;

#ifndef AUTOLOAD
    if (ipckit_nats_register() != 0 || ipckit_nats_register() != 0)
        FAIL("ipckit_nats_register: %s", ipckit_error_detail());
    if (ipckit_backend_find("nats") != ipckit_nats_backend())
        FAIL("the registered nats: backend is not the plug-in's");
#endif
    /* the backend's own parser answers */
    rc = ipckit_open(&ch, "nats://127.0.0.1/bad.queue", IPCKIT_SEND, NULL);
    if (rc != -EINVAL || strstr(ipckit_error_detail(), "queue") == NULL)
        FAIL("bad nats: name: %d %s", rc, ipckit_error_detail());
    if (argc < 2) {
        printf("nats: registered (no server given)\n");
        return 0;
    }
    (void) snprintf(name, sizeof name, "%s/consumer?storage=memory", argv[1]);
    {
        ipckit_opts o = IPCKIT_OPTS_INIT;
        o.open_timeout_ms = 10000;
        rc = ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_RECV | IPCKIT_CREATE, &o);
    }
    if (rc < 0)
        FAIL("open %s: %s", name, ipckit_error_detail());
    if (ipckit_send_typed(ch, 5, "hello", 5, 10000) != 0)
        FAIL("send: %s", ipckit_last_error(ch));
    if (ipckit_recv_typed(ch, 5, &type, buf, sizeof buf, 10000) != 5 || type != 5 ||
        memcmp(buf, "hello", 5) != 0)
        FAIL("recv: %s", ipckit_last_error(ch));
    ipckit_close(ch);
    if (ipckit_unlink(name) != 0)
        FAIL("unlink: %s", ipckit_error_detail());
    printf("nats: a message went through %s\n", argv[1]);
    return 0;
}

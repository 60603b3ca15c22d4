/*
 * ipckit(1): "ipckit rm NAME...", through ipckit_unlink(); "rm --stale" is
 * stale.c's.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <string.h>

#include <ipckit/ipckit.h>

#include "cli.h"

int
cli_rm(int argc, char **argv)
{
    static const struct option longopts[] = { { "force", no_argument, NULL, 'f' },
                                              { NULL, 0, NULL, 0 } };
    bool force = false;
    int opt, worst = CLI_OK;

    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--stale") == 0)
            return cli_rm_stale(argc, argv);
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":f", longopts, NULL)) != -1) {
        if (opt != 'f')
            return cli_bad_option(opt, argv);
        force = true;
    }
    if (optind >= argc) {
        cli_err("no NAME; usage: ipckit rm [-f] NAME... or ipckit rm --stale");
        return CLI_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        int rc;
        if (cli_is_sysvshm(argv[i])) {
            /* PHP's shared state is a region, not a channel */
            int r = ipckit_region_unlink(argv[i]);
            rc = r < 0 && !(force && r == -ENOENT)
                     ? cli_report(argv[i], NULL, r, ipckit_error_detail())
                     : CLI_OK;
            if (rc > worst)
                worst = rc;
            continue;
        }
        rc = cli_check_name(argv[i]);
        if (rc == CLI_OK) {
            int r = ipckit_unlink(argv[i]);
            if (r < 0 && !(force && r == -ENOENT))
                rc = cli_report(argv[i], NULL, r, ipckit_error_detail());
        }
        if (rc > worst)
            worst = rc;
    }
    return worst;
}


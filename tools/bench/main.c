/*
 * ipckit-bench: measures every ipckit backend against the raw kernel
 * mechanism it wraps (and, when built with IPCKIT_BENCH_PEERS, against nng
 * and ZeroMQ; with --base, against another build of libipckit), in one
 * run, interleaved: every repetition runs every variant once, so slow
 * drifts of a shared machine hit all variants alike.
 *
 * Also started as "ipckit bench ARGS": the ipckit tool runs this program
 * with the same arguments.
 *
 * The files: options.c reads the command line; plan.c decides which jobs
 * run, in which order; run.c runs one job (its processes, their pinning,
 * the timing and the verification) with the messages of content.c; cells.c
 * gathers the results and output.c writes them; selftest.c checks that the
 * verification catches a damaged message. The variants that move the
 * messages are in xport_raw.c, xport_ipckit.c and peers.c, the table of
 * backends that pairs them in xport.c; bench.h declares what they share.
 * --pubsub (pubsub.c, pubsub_iox.c) measures publish/subscribe against
 * iceoryx instead.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "pubsub.h"

int
main(int argc, char **argv)
{
    struct bx_opts opt;
    struct bx_runner rn;
    struct bx_cells cells = { NULL, 0, 0 };
    struct bx_machine machine;
    char command_line[BX_COMMAND_MAX];
    int failed;

    /* publish/subscribe against iceoryx: a mode of its own (pubsub.c) */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--pubsub") == 0)
            return bx_pubsub_main(argc, argv);
    bx_options_default(&opt);
    bx_command_save(command_line, argc, argv);
    bx_options_parse(&opt, argc, argv);
    if (opt.base != NULL && bx_base_open(opt.base) < 0)
        return 2;
    if (bx_plan_count(&opt) == 0) {
        /* A selection that matches no run would print an empty table and
         * "succeed": refuse it. */
        (void) fprintf(stderr, "ipckit-bench: nothing to run: no backend (-b) has a variant"
                               " (-V) measured by a metric (-m) of this selection\n");
        bx_base_close();
        return 2;
    }
    bx_machine_read(&machine);
    (void) signal(SIGPIPE, SIG_IGN);   /* a dead peer must fail a run, not the program */
    bx_stop_on_signals();
    if (opt.selftest)
        bx_selftest_options(&opt);
    if (bx_runner_open(&rn, &opt) < 0) {
        bx_base_close();
        return 1;
    }

    if (opt.selftest) {
        int status = bx_selftest_run(&opt, &rn);
        bx_runner_close(&rn);
        bx_base_close();
        return status;
    }

    bx_plan_run(&opt, &rn, &cells);
    bx_runner_close(&rn);
    if (bx_stop_requested()) {
        (void) fprintf(stderr, "ipckit-bench: interrupted; nothing left behind\n");
        bx_base_close();
        return 128 + bx_stop_requested();
    }
    bx_machine_read_end(&machine);

    failed = bx_cells_summarise(&cells);
    bx_report(&opt, &machine, command_line, &cells);
    bx_cells_free(&cells);
    bx_base_close();
    return failed ? 1 : 0;
}

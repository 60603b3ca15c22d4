/*
 * Tests of the ipckit command-line tool: the real program, run as separate
 * processes. The channel tests are table-driven over names; a row runs only
 * when its scheme is registered (ipckit_backend_find()).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ipckit/ipckit.h>
#include <ipckit/backend.h>
#include <ipckit/region.h>

#include "testkit.h"

#ifndef IPCKIT_CLI_PATH
#error "IPCKIT_CLI_PATH must name the ipckit program"
#endif

#define RUN_WAIT 20000
#define OUT_MAX 65536

extern char **environ;

/* ---- running the program ------------------------------------------------------ */

struct proc {
    pid_t pid;
    int in, out, err;
};

struct result {
    int status;          /* exit status, 128 + signal, or -1 on timeout */
    char out[OUT_MAX];
    size_t outlen;
    char err[OUT_MAX];
    size_t errlen;
};

/* When not 0, spawn() runs the program as this user (and group); needs root. */
static uid_t spawn_uid;

/* When not NULL, spawn() calls it in the child just before exec: the
 * program then runs with the child's pid, which it may use in file names.
 * It returns false when it failed (the child then exits 124). */
static bool (*spawn_prepare)(void);

static void
copy_file(const char *from, const char *to)
{
    char buf[65536];
    ssize_t n;
    int in = open(from, O_RDONLY | O_CLOEXEC), out;
    ck_assert_msg(in >= 0, "open %s: %s", from, strerror(errno));
    out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    ck_assert_msg(out >= 0, "create %s: %s", to, strerror(errno));
    while ((n = read(in, buf, sizeof buf)) > 0)
        ck_assert_int_eq(write(out, buf, (size_t) n), n);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(fchmod(out, 0755), 0);
    (void) close(in);
    (void) close(out);
}

/*
 * The program as another user can run it: the build tree may sit where
 * that user cannot go (a checkout under /root), so copy the program, and
 * the shared library it needs, into a directory of the scratch directory
 * that everyone may read, and point LD_LIBRARY_PATH there (the program's
 * RUNPATH gives way to it). The test makes the scratch directory 0755.
 */
static const char *
cli_for_other_user(char *libdir, size_t cap)
{
    static char prog[PATH_MAX + 16];
    const char *lib = IPCKIT_LIB_PATH;
    tk_path(libdir, cap, "other-user");
    (void) snprintf(prog, sizeof prog, "%s/ipckit", libdir);
    if (access(prog, X_OK) == 0)
        return prog;
    ck_assert_int_eq(mkdir(libdir, 0755), 0);
    ck_assert_int_eq(chmod(libdir, 0755), 0);
    copy_file(IPCKIT_CLI_PATH, prog);
    if (strstr(lib, ".so") != NULL) {
        char to[PATH_MAX + 16];
        (void) snprintf(to, sizeof to, "%s/libipckit.so.0", libdir);
        copy_file(lib, to);
    }
    return prog;
}

/* Start the program with @p argv (NULL-terminated, argv[0] ignored). */
static struct proc
spawn(const char *const *argv, char *const *envp)
{
    struct proc p;
    int in[2], out[2], err[2];
    const char *prog = IPCKIT_CLI_PATH;
    char libdir[PATH_MAX], ldpath[PATH_MAX + 32];
    char *other_env[2] = { ldpath, NULL };
    if (spawn_uid != 0) {
        prog = cli_for_other_user(libdir, sizeof libdir);
        (void) snprintf(ldpath, sizeof ldpath, "LD_LIBRARY_PATH=%s", libdir);
        ck_assert_ptr_null(envp); /* not combined so far */
        envp = other_env;
    }
    ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
    p.pid = fork();
    ck_assert_int_ge(p.pid, 0);
    if (p.pid == 0) {
        (void) dup2(in[0], 0);
        (void) dup2(out[1], 1);
        (void) dup2(err[1], 2);
        if (spawn_uid != 0 && (setgroups(0, NULL) < 0 || setresgid(spawn_uid, spawn_uid, spawn_uid) < 0 ||
                               setresuid(spawn_uid, spawn_uid, spawn_uid) < 0))
            _exit(125);
        if (spawn_prepare != NULL && !spawn_prepare())
            _exit(124);
        (void) execve(prog, (char *const *) argv, envp ? envp : environ);
        _exit(126);
    }
    (void) close(in[0]);
    (void) close(out[1]);
    (void) close(err[1]);
    p.in = in[1];
    p.out = out[0];
    p.err = err[0];
    return p;
}

/* Feed @p input (may be NULL), collect the output and the exit status. */
static void
finish(struct proc *p, const char *input, size_t inlen, struct result *r)
{
    long long end = tk_now_ms() + RUN_WAIT;
    struct pollfd fds[2] = { { p->out, POLLIN, 0 }, { p->err, POLLIN, 0 } };
    int open_fds = 2;

    if (input != NULL && inlen > 0)
        ck_assert_int_eq(write(p->in, input, inlen), (ssize_t) inlen);
    (void) close(p->in);
    r->outlen = r->errlen = 0;
    while (open_fds > 0) {
        long long left = end - tk_now_ms();
        int n = poll(fds, 2, left > 0 ? (int) left : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (int i = 0; i < 2; i++) {
            char *dst = i == 0 ? r->out : r->err;
            size_t *len = i == 0 ? &r->outlen : &r->errlen;
            ssize_t got;
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            got = read(fds[i].fd, dst + *len, OUT_MAX - 1 - *len);
            if (got > 0) {
                *len += (size_t) got;
            } else {
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    (void) close(p->out);
    (void) close(p->err);
    r->out[r->outlen] = '\0';
    r->err[r->errlen] = '\0';
    r->status = tk_wait(p->pid, open_fds > 0 ? 0 : RUN_WAIT);
}

static void
run_env(struct result *r, const char *input, char *const *envp, const char *const *argv)
{
    struct proc p = spawn(argv, envp);
    finish(&p, input, input ? strlen(input) : 0, r);
}

/* Run "ipckit ARGS..." (NULL-terminated) with @p input on standard input. */
static void
run(struct result *r, const char *input, ...)
{
    const char *argv[32];
    int n = 0;
    va_list ap;
    argv[n++] = "ipckit";
    va_start(ap, input);
    while ((argv[n] = va_arg(ap, const char *)) != NULL)
        ck_assert_int_lt(++n, 31);
    va_end(ap);
    run_env(r, input, NULL, argv);
}

#define ck_assert_exit(r, code)                                                          \
    ck_assert_msg((r)->status == (code), "exit %d, want %d\nstdout: %s\nstderr: %s",     \
                  (r)->status, (code), (r)->out, (r)->err)

/* ---- the scheme table ---------------------------------------------------------- */

struct row {
    const char *scheme;
    const char *label;
    bool typed;     /* carries the type of each message */
    void (*make)(char *name, size_t cap, char *needle, size_t ncap);
    const char *mark; /* what the IPCKIT column of "ipckit ls" must show, or NULL */
};

/* needle: a string "ipckit ls" shows for the object. */
static void
make_fifo(char *name, size_t cap, char *needle, size_t ncap)
{
    static unsigned n;
    char leaf[32];
    (void) snprintf(leaf, sizeof leaf, "cli%u", ++n);
    tk_name(name, cap, "fifo", leaf);
    tk_path(needle, ncap, leaf);
}

static void
make_fifo_stream(char *name, size_t cap, char *needle, size_t ncap)
{
    make_fifo(name, cap, needle, ncap);
    (void) strncat(name, "?stream=1", cap - strlen(name) - 1);
}

static void
make_mq(char *name, size_t cap, char *needle, size_t ncap)
{
    key_t k = tk_sysv_key();
    (void) snprintf(name, cap, "mq:0x%08x", (unsigned) k);
    (void) snprintf(needle, ncap, "0x%08x", (unsigned) k);
}

static void
make_shm(char *name, size_t cap, char *needle, size_t ncap)
{
    char posix[128];
    tk_posix_name(posix, sizeof posix);
    (void) snprintf(name, cap, "shm:%s", posix);
    (void) snprintf(needle, ncap, "%s", posix);
}

static const struct row all_rows[] = {
    { "fifo", "fifo framed", true, make_fifo, NULL },
    { "fifo", "fifo stream", false, make_fifo_stream, NULL },
    { "mq", "System V queue", true, make_mq, NULL },
    { "shm", "shared memory ring", true, make_shm, " ring " },
};

static const struct row *rows[sizeof all_rows / sizeof all_rows[0]];
static int nrows;

static void
pick_rows(void)
{
    for (size_t i = 0; i < sizeof all_rows / sizeof all_rows[0]; i++) {
        if (ipckit_backend_find(all_rows[i].scheme) != NULL)
            rows[nrows++] = &all_rows[i];
        else
            printf("test_cli: %s rows skipped: no \"%s:\" backend in this build\n",
                   all_rows[i].label, all_rows[i].scheme);
    }
}

static char name[600], needle[600];

static const struct row *
row_setup(int i)
{
    const struct row *r = rows[i];
    r->make(name, sizeof name, needle, sizeof needle);
    return r;
}

static void
remove_ok(void)
{
    struct result r;
    run(&r, NULL, "rm", name, NULL);
    ck_assert_exit(&r, 0);
}

static void ls_line(const char *mark, char *buf, size_t cap);

/* ---- channel tests, one per row ---------------------------------------------------- */

/* A receiver in one process, a sender in another, messages from arguments. */
START_TEST(send_recv_args)
{
    const struct row *row = row_setup(_i);
    const char *rargv[] = { "ipckit", "recv", "--create", "--count", "3", name, NULL };
    struct proc rp = spawn(rargv, NULL);
    struct result s, r;

    run(&s, NULL, "send", "--create", name, "one", "two words", "-", NULL);
    ck_assert_exit(&s, 0);
    finish(&rp, NULL, 0, &r);
    ck_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "one\ntwo words\n-\n");
    (void) row;
    remove_ok();
}
END_TEST

/* Lines of standard input, with a type where the scheme carries one. */
START_TEST(send_recv_stdin)
{
    const struct row *row = row_setup(_i);
    const char *rargv[] = { "ipckit", "recv", "-c", "-n", "3", "--print-type", name, NULL };
    struct proc rp = spawn(rargv, NULL);
    struct result s, r;

    run(&s, "alpha\n\nlast without newline", "send", "-c", "--type", "7", name, NULL);
    ck_assert_exit(&s, 0);
    finish(&rp, NULL, 0, &r);
    ck_assert_exit(&r, 0);
    if (row->typed)
        ck_assert_str_eq(r.out, "7\talpha\n7\t\n7\tlast without newline\n");
    else
        ck_assert_str_eq(r.out, "1\talpha\n1\t\n1\tlast without newline\n");
    remove_ok();
}
END_TEST

/* Binary data: --whole sends it as it is, --hex shows every byte. */
START_TEST(whole_and_hex)
{
    const struct row *row = row_setup(_i);
    const char *rargv[] = { "ipckit", "recv", "-c", "--hex", name, NULL };
    struct proc rp = spawn(rargv, NULL);
    struct proc sp;
    struct result s, r;
    static const char data[] = { 'a', 0, 'b', '\xff', '\n' };
    const char *sargv[] = { "ipckit", "send", "-c", "--whole", name, NULL };

    sp = spawn(sargv, NULL);
    finish(&sp, data, sizeof data, &s);
    ck_assert_exit(&s, 0);
    finish(&rp, NULL, 0, &r);
    ck_assert_exit(&r, 0);
    /* A byte stream cuts its records at the newline, which is not shown. */
    ck_assert_str_eq(r.out, row->typed ? "610062ff0a\n" : "610062ff\n");
    remove_ok();
}
END_TEST

/* --raw carries any bytes unchanged: one message, or a byte stream as it comes. */
START_TEST(raw_binary)
{
    const char *rargv[] = { "ipckit", "recv", "-c", "--raw", "--count", "0", "--timeout",
                            "1500", name, NULL };
    const char *sargv[] = { "ipckit", "send", "-c", "--whole", name, NULL };
    static char data[6000];
    struct proc rp, sp;
    struct result s, r;
    (void) row_setup(_i);
    for (size_t k = 0; k < sizeof data; k++)
        data[k] = (char) ((k * 7919u) >> 3);
    rp = spawn(rargv, NULL);
    sp = spawn(sargv, NULL);
    finish(&sp, data, sizeof data, &s);
    ck_assert_exit(&s, 0);
    finish(&rp, NULL, 0, &r);
    ck_assert_exit(&r, 0);
    ck_assert_uint_eq(r.outlen, sizeof data);
    ck_assert(memcmp(r.out, data, sizeof data) == 0);
    remove_ok();
}
END_TEST

/* --count 0 takes everything until the channel ends or goes quiet: exit 0. */
START_TEST(recv_all)
{
    const char *rargv[] = { "ipckit", "recv", "-c", "--count", "0", "--timeout", "1500", name,
                            NULL };
    struct proc rp;
    struct result s, r;
    (void) row_setup(_i);
    rp = spawn(rargv, NULL);
    run(&s, "m1\nm2\nm3\n", "send", "-c", name, NULL);
    ck_assert_exit(&s, 0);
    finish(&rp, NULL, 0, &r);
    ck_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "m1\nm2\nm3\n");
    remove_ok();
}
END_TEST

/* Nothing to receive: exit 3 after about the timeout, with the name in the message. */
START_TEST(recv_timeout)
{
    struct result r;
    long long t0;
    (void) row_setup(_i);
    t0 = tk_now_ms();
    run(&r, NULL, "recv", "--create", "--timeout", "300", name, NULL);
    ck_assert_exit(&r, 3);
    ck_assert_int_ge(tk_now_ms() - t0, 250);
    ck_assert_uint_eq(r.outlen, 0);
    ck_assert_msg(strstr(r.err, name) != NULL, "stderr: %s", r.err);
    remove_ok();
}
END_TEST

/* Another user's object is refused until --trust names that user (and
 * --mode accepts that everyone may write to it). */
START_TEST(trust_flag)
{
    struct result r;
    const struct row *row = row_setup(_i);
    if (geteuid() != 0 || strcmp(row->scheme, "fifo") == 0)
        return; /* needs root to be another user; a FIFO needs a shared directory */
    ck_assert_int_eq(chmod(tk_dir(), 0755), 0); /* the other user runs a copy from there */
    spawn_uid = 65534;
    run(&r, NULL, "send", "--create", "--mode", "0666", "--timeout", "0", name, "hello", NULL);
    spawn_uid = 0;
    ck_assert_exit(&r, 0);
    run(&r, NULL, "recv", "--timeout", "0", name, NULL);
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "uid 65534") && strstr(r.err, "trust"), "stderr: %s", r.err);
    run(&r, NULL, "recv", "--timeout", "0", "--trust", "65534", name, NULL);
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "everyone"), "stderr: %s", r.err);
    run(&r, NULL, "recv", "--timeout", "0", "--trust", "nobody", "--mode", "0666", name, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "hello\n");
    run(&r, NULL, "send", "--timeout", "0", "-T", "*", name, "again", NULL);
    ck_assert_exit(&r, 0);
    remove_ok();
}
END_TEST

/* ls shows the object with its mode, stat describes it, rm removes it. */
START_TEST(ls_stat_rm)
{
    struct result r;
    const struct row *row = row_setup(_i);
    run(&r, NULL, "recv", "--create", "--mode", "0640", "--timeout", "0", name, NULL);
    ck_assert_exit(&r, 3);

    run(&r, NULL, "ls", tk_dir(), NULL);
    ck_assert_exit(&r, 0);
    char *line = strstr(r.out, needle);
    ck_assert_msg(line != NULL, "%s not in:\n%s", needle, r.out);
    while (line > r.out && line[-1] != '\n')
        line--;
    ck_assert_msg(strstr(line, " 0640 ") != NULL, "mode not shown: %.200s", line);
    if (row->mark != NULL)
        ck_assert_msg(strstr(line, row->mark) != NULL && strchr(line, '\n') > strstr(line, row->mark),
                      "\"%s\" not shown: %.200s", row->mark, line);

    run(&r, NULL, "ls", "--json", tk_dir(), NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(r.out[0] == '[' && strstr(r.out, needle) != NULL &&
                      strstr(r.out, "\"mode\": \"0640\"") != NULL,
                  "json: %s", r.out);

    run(&r, NULL, "stat", name, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "0640") != NULL, "stat: %s", r.out);

    remove_ok();
    run(&r, NULL, "ls", tk_dir(), NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, needle) == NULL, "still listed:\n%s", r.out);

    run(&r, NULL, "rm", name, NULL);
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, name) != NULL, "stderr: %s", r.err);
    run(&r, NULL, "rm", "--force", name, NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "stat", name, NULL);
    ck_assert_exit(&r, 1);
}
END_TEST

/*
 * signal: has no object to create: the receiver opens signal:self, and
 * --pid-file tells the sender which process that is, once it is open.
 */
START_TEST(signal_pid_file)
{
    char pidf[600], target[64], text[32] = "";
    const char *rargv[] = { "ipckit", "recv", "--count", "2", "--print-type", "--timeout",
                            "20000", "--pid-file", pidf, "signal:self", NULL };
    struct proc rp;
    struct result s, r;
    long long end = tk_now_ms() + RUN_WAIT;
    FILE *f;
    long pid = 0;

    tk_path(pidf, sizeof pidf, "recv.pid");
    rp = spawn(rargv, NULL);
    while ((f = fopen(pidf, "r")) == NULL && tk_now_ms() < end)
        (void) usleep(5000);
    ck_assert_msg(f != NULL, "no pid file");
    ck_assert(fgets(text, sizeof text, f) != NULL);
    (void) fclose(f);
    (void) unlink(pidf);
    pid = strtol(text, NULL, 10);
    ck_assert_int_eq(pid, rp.pid);
    (void) snprintf(target, sizeof target, "signal:%ld", pid);
    run(&s, NULL, "send", "--type", "3", target, "a", "bc", NULL);
    ck_assert_exit(&s, 0);
    finish(&rp, NULL, 0, &r);
    ck_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "3\ta\n3\tbc\n");
}
END_TEST

/*
 * recv on a broadcast ring follows it like tail -f: without --count it goes
 * on receiving what is published after it joined, until it is stopped.
 */
START_TEST(recv_follows_broadcast)
{
    char pidf[600], pname[128], bname[300], text[32] = "";
    const char *rargv[] = { "ipckit", "recv", "--pid-file", pidf, bname, NULL };
    ipckit_channel *pub = NULL;
    struct proc rp;
    struct result r;
    long long end = tk_now_ms() + RUN_WAIT;
    FILE *f;

    tk_path(pidf, sizeof pidf, "follow.pid");
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(bname, sizeof bname, "shm:%s?bcast=1", pname);
    ck_assert_int_eq(ipckit_open(&pub, bname, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, NULL), 0);
    ck_assert_int_eq(ipckit_send(pub, "before", 6, 0), 0); /* not seen: published before */
    rp = spawn(rargv, NULL);
    while ((f = fopen(pidf, "r")) == NULL && tk_now_ms() < end)
        (void) usleep(5000);
    ck_assert_msg(f != NULL, "no pid file");
    ck_assert(fgets(text, sizeof text, f) != NULL);
    (void) fclose(f);
    (void) unlink(pidf);
    ck_assert_int_eq(ipckit_send(pub, "one", 3, 0), 0);
    ck_assert_int_eq(ipckit_send(pub, "two", 3, 0), 0);
    ck_assert_int_eq(ipckit_send(pub, "three", 5, 0), 0);
    /* it does not stop after one message: wait for all three lines */
    {
        char got[64];
        size_t len = 0;
        while (len < 14 && tk_now_ms() < end) {
            struct pollfd pfd = { rp.out, POLLIN, 0 };
            if (poll(&pfd, 1, 100) > 0) {
                ssize_t n = read(rp.out, got + len, sizeof got - 1 - len);
                if (n <= 0)
                    break;
                len += (size_t) n;
            }
        }
        got[len] = '\0';
        ck_assert_str_eq(got, "one\ntwo\nthree\n");
    }
    ck_assert_int_eq(kill(rp.pid, 0), 0); /* still following */
    ck_assert_int_eq(kill(rp.pid, SIGTERM), 0);
    finish(&rp, NULL, 0, &r);
    ck_assert_int_eq(r.status, 128 + SIGTERM);
    ck_assert_int_eq(ipckit_close(pub), 0);
    ck_assert_int_eq(ipckit_unlink(bname), 0);
}
END_TEST

/*
 * recv --pid-file writes FILE.<pid>.tmp and renames it to FILE. A symbolic
 * link planted under that name (here by the child that becomes the program,
 * which knows its pid) is not followed: the file it points to, which only
 * root may write when the test runs as root, stays as it was, the link too,
 * and the program says why it did not write the pid file.
 */
static char pidf_planted[600], pidf_victim[600];

static bool
plant_pid_tmp_link(void)
{
    char tmp[sizeof pidf_planted + 32];
    (void) snprintf(tmp, sizeof tmp, "%s.%ld.tmp", pidf_planted, (long) getpid());
    return symlink(pidf_victim, tmp) == 0;
}

START_TEST(pid_file_not_followed)
{
    char tmp[800], link_to[700] = "", victim_text[64];
    const char *target = ipckit_backend_find("signal") != NULL ? "signal:self" : NULL;
    char fifo_name[700];
    struct result r;
    struct stat sb;
    ssize_t n;
    struct proc p;
    bool renamed;

    if (target == NULL) {
        tk_name(fifo_name, sizeof fifo_name, "fifo", "pidf.pipe");
        target = fifo_name;
    }
    const char *argv[] = { "ipckit", "recv", "--create", "--timeout", "0", "--pid-file",
                           pidf_planted, target, NULL };
    tk_path(pidf_planted, sizeof pidf_planted, "recv.pid");
    tk_path(pidf_victim, sizeof pidf_victim, "victim");
    ck_assert_int_eq(tk_plant(pidf_victim, "root only\n", geteuid()), 0);
    ck_assert_int_eq(chmod(pidf_victim, 0600), 0);

    spawn_prepare = plant_pid_tmp_link;
    p = spawn(argv, NULL);
    spawn_prepare = NULL;
    finish(&p, NULL, 0, &r);
    (void) snprintf(tmp, sizeof tmp, "%s.%ld.tmp", pidf_planted, (long) p.pid);
    n = readlink(tmp, link_to, sizeof link_to - 1);
    renamed = lstat(pidf_planted, &sb) == 0;
    if (tk_read_file(pidf_victim, victim_text, sizeof victim_text) < 0)
        victim_text[0] = '\0';
    (void) unlink(tmp);
    (void) unlink(pidf_planted);
    (void) unlink(pidf_victim);
    if (target == fifo_name)
        (void) ipckit_unlink(fifo_name);
    ck_assert_str_eq(victim_text, "root only\n");
    ck_assert_msg(n > 0 && strcmp(link_to, pidf_victim) == 0, "the planted link was touched");
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, tmp) != NULL && strstr(r.err, "already exists") != NULL,
                  "stderr: %s", r.err);
    ck_assert_msg(!renamed, "something was renamed to %s", pidf_planted);
}
END_TEST

/*
 * A System V key: the KEY column pads it to eight digits, as ipcs(1) does
 * ("0x01c0ffee"); the NAME column writes it as one types a name, and as PHP's
 * sprintf("0x%x") gives it: "mq:0x1c0ffee". A key below 0x10000000 shows the
 * difference.
 */
START_TEST(sysv_key_and_name)
{
    unsigned k = (unsigned) tk_sysv_key() >> 4; /* 0x01cXXXXX: a leading zero */
    char obj[64], key[32], line[1024], want[128];
    struct result r;
    (void) snprintf(obj, sizeof obj, "mq:0x%x", k);
    (void) snprintf(key, sizeof key, "0x%08x", k);
    run(&r, NULL, "send", "--create", obj, "hi", NULL);
    ck_assert_exit(&r, 0);
    ls_line(key, line, sizeof line);
    (void) snprintf(want, sizeof want, " %s ", key);
    ck_assert_msg(strstr(line, want) != NULL, "no padded key %s: %s", key, line);
    (void) snprintf(want, sizeof want, " %s", obj);
    ck_assert_msg(strstr(line, want) != NULL && strcmp(line + strlen(line) - strlen(want), want) == 0,
                  "NAME is not %s: %s", obj, line);
    run(&r, NULL, "rm", obj, NULL);
    ck_assert_exit(&r, 0);
}
END_TEST

/* ---- names and usage ---------------------------------------------------------------- */

/* A bad name is a usage error (2), a name with nothing behind it a failure (1). */
START_TEST(bad_names)
{
    static const struct {
        const char *name;
        int code;
        const char *says;
    } cases[] = {
        { "nocolon", 2, "nocolon" },
        { "fifo:", 2, "fifo:" },
        { "bogus:/tmp/x", 2, "unknown scheme \"bogus\"" },
        { "fifo:/tmp/x?nosuchparam=1", 1, "nosuchparam" },
        { "fifo:/nonexistent-ipckit-dir/p", 1, "/nonexistent-ipckit-dir/p" },
    };
    static const char *const cmds[] = { "send", "recv", "stat", "rm" };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
            struct result r;
            int want = cases[i].code;
            /* stat and rm do not open, so they never see the parameter. */
            if (strstr(cases[i].name, "nosuchparam") != NULL && c >= 2)
                continue;
            const char *argv[] = { "ipckit", cmds[c], "--timeout", "0", cases[i].name, NULL };
            if (c >= 2) {
                argv[2] = cases[i].name;
                argv[3] = NULL;
            }
            run_env(&r, NULL, NULL, argv);
            ck_assert_msg(r.status == want, "ipckit %s %s: exit %d, want %d (%s)", cmds[c],
                          cases[i].name, r.status, want, r.err);
            ck_assert_msg(strstr(r.err, cases[i].says) != NULL && strchr(r.err, '\n') != NULL,
                          "ipckit %s %s: stderr does not say \"%s\": %s", cmds[c],
                          cases[i].name, cases[i].says, r.err);
            ck_assert_uint_eq(r.outlen, 0);
        }
    }
}
END_TEST

/* How many times @p what occurs in @p hay. */
static int
count_of(const char *hay, const char *what)
{
    int n = 0;
    for (const char *at = strstr(hay, what); at != NULL; at = strstr(at + 1, what))
        n++;
    return n;
}

/* @p err is one line, "ipckit: CMD: NAME: ...", and says @p ename. */
static void
one_error_line(const struct result *r, const char *cmd, const char *obj, const char *ename)
{
    char head[700];
    (void) snprintf(head, sizeof head, "ipckit: %s: %s: ", cmd, obj);
    ck_assert_msg(strncmp(r->err, head, strlen(head)) == 0, "want \"%s...\": %s", head, r->err);
    ck_assert_msg(count_of(r->err, "\n") == 1 && r->err[r->errlen - 1] == '\n', "not one line: %s",
                  r->err);
    if (ename != NULL)
        ck_assert_msg(strstr(r->err, ename) != NULL, "no %s: %s", ename, r->err);
}

/*
 * An error says each thing once: the command, then the name, then the
 * library's detail without its own call name ("send: "), scheme ("mq: ",
 * "fifo: ") or the name again ("name \"NAME\": ").
 */
START_TEST(errors_said_once)
{
    struct result r;
    char obj[600], dup[700];
    if (ipckit_backend_find("mq") != NULL) {
        key_t k = tk_sysv_key();
        (void) snprintf(obj, sizeof obj, "mq:0x%x", (unsigned) k);
        run(&r, NULL, "send", "--create", "--max-size", "8", obj, "123456789", NULL);
        ck_assert_exit(&r, 1);
        one_error_line(&r, "send", obj, "(EMSGSIZE)");
        ck_assert_msg(count_of(r.err, "send: ") == 1 && strstr(r.err, " 9 bytes") != NULL,
                      "stderr: %s", r.err);
        run(&r, NULL, "send", obj, "0123456789", NULL);
        ck_assert_exit(&r, 0);
        run(&r, NULL, "recv", "--max-size", "4", "--timeout", "0", obj, NULL);
        ck_assert_exit(&r, 1);
        one_error_line(&r, "recv", obj, "(EMSGSIZE)");
        ck_assert_msg(count_of(r.err, "recv: ") == 1, "stderr: %s", r.err);
        run(&r, NULL, "rm", obj, NULL);
        ck_assert_exit(&r, 0);
        run(&r, NULL, "recv", "--timeout", "0", obj, NULL);
        ck_assert_exit(&r, 1);
        one_error_line(&r, "recv", obj, "(ENOENT)");
        ck_assert_msg(strstr(r.err, " mq: ") == NULL && count_of(r.err, "open") == 1,
                      "stderr: %s", r.err);
    }
    if (ipckit_backend_find("fifo") != NULL) {
        tk_name(obj, sizeof obj, "fifo", "once.pipe");
        run(&r, NULL, "send", "--create", "--timeout", "0", obj, "x", NULL);
        ck_assert_int_ne(r.status, 0);
        one_error_line(&r, "send", obj, NULL);
        ck_assert_msg(strstr(r.err, " fifo: ") == NULL && strstr(r.err, "open: open") == NULL,
                      "stderr: %s", r.err);
        run(&r, NULL, "rm", "--force", obj, NULL); /* a failed open removes what it made */
        ck_assert_exit(&r, 0);
    }
    if (ipckit_backend_find("signal") != NULL) {
        run(&r, NULL, "stat", "signal:self", NULL);
        ck_assert_exit(&r, 1);
        one_error_line(&r, "stat", "signal:self", "(ENOTSUP)");
        ck_assert_msg(count_of(r.err, "stat") == 1 && count_of(r.err, "signal:self") == 1,
                      "stderr: %s", r.err);
    }
    run(&r, NULL, "send", "nocolon", "x", NULL);
    ck_assert_exit(&r, 2);
    one_error_line(&r, "send", "nocolon", NULL);
    ck_assert_msg(count_of(r.err, "nocolon") == 1, "stderr: %s", r.err);
    (void) snprintf(dup, sizeof dup, "%s", "mq:/nonexistent-ipckit-dir");
    run(&r, NULL, "key", dup, NULL);
    ck_assert_exit(&r, 1);
    one_error_line(&r, "key", dup, "(ENOENT)");
    ck_assert_msg(count_of(r.err, dup) == 1, "stderr: %s", r.err);
}
END_TEST

START_TEST(usage_errors)
{
    static const char *const cases[][4] = {
        { "frobnicate", NULL },
        { "send", NULL },
        { "recv", NULL },
        { "send", "--no-such-option", "fifo:/tmp/x", NULL },
        { "recv", "--count", "-1", "fifo:/tmp/x" },
        { "recv", "--timeout", "soon", "fifo:/tmp/x" },
        { "send", "--type", "0", "fifo:/tmp/x" },
        { "send", "--mode", "999", "fifo:/tmp/x" },
        { "ls", "--depth", "x", NULL },
        { "rm", NULL },
        { "rm", "--stale", "notakey", NULL },
    };
    struct result r;
    const char *argv0[] = { "ipckit", NULL };
    run_env(&r, NULL, NULL, argv0);
    ck_assert_exit(&r, 2);
    ck_assert_msg(strstr(r.err, "usage:") != NULL, "%s", r.err);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[6] = { "ipckit" };
        for (int k = 0; k < 4 && cases[i][k]; k++)
            argv[k + 1] = cases[i][k];
        run_env(&r, NULL, NULL, argv);
        ck_assert_msg(r.status == 2, "case %zu (%s %s): exit %d: %s", i, cases[i][0],
                      cases[i][1] ? cases[i][1] : "", r.status, r.err);
        ck_assert_msg(strncmp(r.err, "ipckit: ", 8) == 0, "case %zu: stderr: %s", i, r.err);
    }
}
END_TEST

static int
check_scheme_listed(const ipckit_backend *be, void *arg)
{
    const char *out = arg;
    ck_assert_msg(strstr(out, be->scheme) != NULL, "--version does not list %s", be->scheme);
    return 0;
}

START_TEST(help_and_version)
{
    static const char *const cmds[] = { "send", "recv", "ls", "stat", "rm", "key", "bench" };
    struct result r;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char want[64];
        (void) snprintf(want, sizeof want, "usage: ipckit %s", cmds[i]);
        run(&r, NULL, cmds[i], "--help", NULL);
        ck_assert_msg(r.status == 0, "%s --help: exit %d: %s", cmds[i], r.status, r.err);
        ck_assert_msg(r.outlen > 0, "%s --help printed nothing", cmds[i]);
        if (strcmp(cmds[i], "bench") != 0) {
            ck_assert_msg(strstr(r.out, want) != NULL, "%s --help: %s", cmds[i], r.out);
            run(&r, NULL, "help", cmds[i], NULL);
            ck_assert_exit(&r, 0);
            ck_assert_msg(strstr(r.out, want) != NULL, "help %s: %s", cmds[i], r.out);
        }
    }
    run(&r, NULL, "--help", NULL);
    ck_assert_exit(&r, 0);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        ck_assert_msg(strstr(r.out, cmds[i]) != NULL, "--help omits %s", cmds[i]);
    run(&r, NULL, "--version", NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, IPCKIT_VERSION_STRING) != NULL, "%s", r.out);
    (void) ipckit_backend_foreach(check_scheme_listed, r.out);
}
END_TEST

/* Without ipckit-bench next to the program or in PATH: a clear error, 127. */
START_TEST(bench_missing)
{
    char beside[700];
    struct stat sb;
    struct result r;
    char *env[] = { (char *) "PATH=/nonexistent-ipckit-dir", NULL };
    const char *argv[] = { "ipckit", "bench", "--quick", NULL };
    (void) snprintf(beside, sizeof beside, "%s", IPCKIT_CLI_PATH);
    *strrchr(beside, '/') = '\0';
    (void) strncat(beside, "/ipckit-bench", sizeof beside - strlen(beside) - 1);
    if (stat(beside, &sb) == 0) {
        printf("test_cli: %s exists; bench_missing skipped\n", beside);
        return;
    }
    run_env(&r, NULL, env, argv);
    ck_assert_exit(&r, 127);
    ck_assert_msg(strstr(r.err, "ipckit-bench not found") != NULL, "%s", r.err);
}
END_TEST

/*
 * A variant or backend of a peer library (nng, zmq) that ipckit-bench was
 * built without: it says so and how to build it in, and fails with the usage
 * status (2), before it measures anything; it printed an empty table and
 * exited 0. A selection that matches no run fails the same way.
 */
START_TEST(bench_peers_missing)
{
    static const struct {
        const char *b, *v, *says;
    } cases[] = {
        { "fifo", "nng", "-DIPCKIT_BENCH_PEERS=ON" },
        { "fifo", "raw,zmq", "-DIPCKIT_BENCH_PEERS=ON" },
        { "nng", "raw", "-DIPCKIT_BENCH_PEERS=ON" },
        { "fifo", "bogus", "unknown variant" },
        { "pipe", "ipckit", "nothing to run" }, /* the pipe row has no ipckit variant */
    };
    char beside[700], *line;
    struct stat sb;
    struct result r;
    (void) snprintf(beside, sizeof beside, "%s", IPCKIT_CLI_PATH);
    *strrchr(beside, '/') = '\0';
    (void) strncat(beside, "/ipckit-bench", sizeof beside - strlen(beside) - 1);
    if (stat(beside, &sb) != 0) {
        printf("test_cli: no %s; bench_peers_missing skipped\n", beside);
        return;
    }
    run(&r, NULL, "bench", "--help", NULL);
    ck_assert_exit(&r, 0);
    line = strstr(r.out, "(default all):"); /* the backends built in */
    ck_assert_ptr_nonnull(line);
    *strchr(line, '\n') = '\0';
    if (strstr(line, " nng") != NULL || strstr(line, " zmq") != NULL) {
        printf("test_cli: ipckit-bench has peers; bench_peers_missing skipped\n");
        return;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run(&r, NULL, "bench", "--quick", "--no-progress", "-m", "rtt", "-b", cases[i].b, "-V",
            cases[i].v, NULL);
        ck_assert_msg(r.status == 2, "bench -b %s -V %s: exit %d\nstdout: %s\nstderr: %s",
                      cases[i].b, cases[i].v, r.status, r.out, r.err);
        ck_assert_msg(strstr(r.err, cases[i].says) != NULL, "bench -b %s -V %s: stderr: %s",
                      cases[i].b, cases[i].v, r.err);
        ck_assert_msg(r.outlen == 0, "bench -b %s -V %s printed: %s", cases[i].b, cases[i].v,
                      r.out);
    }
}
END_TEST

/*
 * --base=PATH runs the ipckit variants through another libipckit. What it
 * cannot use ends the program with the usage status (2), a message that
 * names --base, and no table: a base variant without --base, a file that
 * is not there, a bare file name (taken as a file here: the loader's
 * search would find the libipckit the program runs with and compare it
 * with itself), and a library that is not a libipckit (the C library).
 */
START_TEST(bench_base_refused)
{
    char beside[700], base_libc[PATH_MAX + 16];
    const char *bases[4];
    const char *(*fn)(void);
    void *addr;
    Dl_info info;
    struct stat sb;
    struct result r;
    _Static_assert(sizeof fn == sizeof addr, "function and object pointers differ");
    (void) snprintf(beside, sizeof beside, "%s", IPCKIT_CLI_PATH);
    *strrchr(beside, '/') = '\0';
    (void) strncat(beside, "/ipckit-bench", sizeof beside - strlen(beside) - 1);
    if (stat(beside, &sb) != 0) {
        printf("test_cli: no %s; bench_base_refused skipped\n", beside);
        return;
    }
    /* The file of the C library: where one of its functions lies (ISO C has
     * no cast from a function pointer to void *). */
    fn = gnu_get_libc_version;
    memcpy(&addr, &fn, sizeof addr);
    ck_assert_int_ne(dladdr(addr, &info), 0);
    ck_assert_ptr_nonnull(info.dli_fname);
    (void) snprintf(base_libc, sizeof base_libc, "--base=%s", info.dli_fname);
    bases[0] = "--base=/nonexistent-ipckit-dir/libipckit.so.0";
    bases[1] = "--base=libipckit.so.0";
    bases[2] = base_libc;
    bases[3] = NULL;

    run(&r, NULL, "bench", "--quick", "--no-progress", "-m", "rtt", "-b", "fifo", "-V",
        "ipckit,base", NULL);
    ck_assert_exit(&r, 2);
    ck_assert_msg(strstr(r.err, "variant \"base\" needs --base=PATH") != NULL, "%s", r.err);
    ck_assert_msg(r.outlen == 0, "printed: %s", r.out);
    for (int i = 0; bases[i] != NULL; i++) {
        run(&r, NULL, "bench", "--quick", "--no-progress", "-m", "rtt", "-b", "fifo", bases[i],
            NULL);
        ck_assert_msg(r.status == 2, "bench %s: exit %d\nstdout: %s\nstderr: %s", bases[i],
                      r.status, r.out, r.err);
        ck_assert_msg(strstr(r.err, "ipckit-bench: --base") != NULL, "bench %s: stderr: %s",
                      bases[i], r.err);
        ck_assert_msg(r.outlen == 0, "bench %s printed: %s", bases[i], r.out);
    }
    /* Unless a sanitizer refused the loading itself, the C library was
     * loaded and found wanting. */
    ck_assert_msg(strstr(r.err, "not a libipckit") != NULL || strstr(r.err, "sanitizer") != NULL,
                  "%s", r.err);
}
END_TEST

/* key prints the System V key of a name, as ipckit_name_sysv_key() computes it. */
START_TEST(key_of_name)
{
    struct result r;
    char want[128];
    ipckit_name *n = NULL;
    key_t k;
    ck_assert_int_eq(ipckit_name_parse("mq:/tmp?proj=m", &n), 0);
    ck_assert_int_eq(ipckit_name_sysv_key(n, &k), 0);
    ipckit_name_free(n);
    (void) snprintf(want, sizeof want, "0x%08x\tmq:/tmp?proj=m\n0x00001234\tmq:0x1234\n",
                    (unsigned) k);
    run(&r, NULL, "key", "mq:/tmp?proj=m", "mq:0x1234", NULL);
    ck_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, want);
    run(&r, NULL, "key", "mq:/nonexistent-ipckit-dir", NULL);
    ck_assert_exit(&r, 1);
    /* a sysvshm: name: PHP's two keys, ftok(path, 'm') and ftok(path, 's') */
    (void) snprintf(want, sizeof want, "0x%08x\tsysvshm:/tmp\tsegment\n0x%08x\tsysvshm:/tmp"
                    "\tsemaphore\n", (unsigned) ftok("/tmp", 'm'), (unsigned) ftok("/tmp", 's'));
    run(&r, NULL, "key", "sysvshm:/tmp", NULL);
    ck_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, want);
}
END_TEST

/* ---- rm --stale ------------------------------------------------------------------- */

static key_t stale_key;

static int
create_segment(void *arg)
{
    (void) arg;
    return shmget(stale_key, 4096, IPC_CREAT | IPC_EXCL | 0600) >= 0 ? 0 : 1;
}

static bool
segment_exists(key_t key)
{
    return shmget(key, 0, 0) >= 0;
}

static void
remove_segment(key_t key)
{
    int id = shmget(key, 0, 0);
    if (id >= 0)
        (void) shmctl(id, IPC_RMID, NULL);
}

/* A segment whose creator has exited and that nobody attached is removed. */
START_TEST(stale_removed)
{
    char key[32], json[64];
    struct result r;
    stale_key = tk_sysv_key();
    (void) snprintf(key, sizeof key, "0x%08x", (unsigned) stale_key);
    ck_assert_int_eq(tk_wait(tk_fork(create_segment, NULL), RUN_WAIT), 0);

    run(&r, NULL, "ls", "--json", tk_dir(), NULL);
    ck_assert_exit(&r, 0);
    (void) snprintf(json, sizeof json, "\"key\": \"%s\"", key);
    char *obj = strstr(r.out, json);
    ck_assert_msg(obj != NULL, "%s not listed: %s", key, r.out);
    ck_assert_msg(strstr(obj, "\"creator_alive\": false") != NULL &&
                      strstr(obj, "\"creator_alive\": false") < strchr(obj, '}'),
                  "creator not shown as gone: %.300s", obj);

    run(&r, NULL, "rm", "--stale", "--dry-run", key, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "would remove") && strstr(r.out, key), "%s", r.out);
    ck_assert(segment_exists(stale_key));

    /* Without arguments only keys that look like ipckit's are considered. */
    run(&r, NULL, "rm", "--stale", "--dry-run", NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, key) == NULL, "%s", r.out);

    run(&r, NULL, "rm", "--stale", key, NULL);
    ck_assert_exit(&r, 0);
    ck_assert(!segment_exists(stale_key));
    run(&r, NULL, "rm", "--stale", key, NULL);
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "no System V shared memory segment") != NULL, "%s", r.err);
}
END_TEST

/* A segment whose creator is alive is kept, and so is an attached one. */
START_TEST(stale_kept)
{
    char key[32];
    struct result r;
    void *at;
    int id;

    stale_key = tk_sysv_key();
    (void) snprintf(key, sizeof key, "0x%08x", (unsigned) stale_key);
    ck_assert_int_ge(shmget(stale_key, 4096, IPC_CREAT | IPC_EXCL | 0600), 0);
    run(&r, NULL, "rm", "--stale", key, NULL);
    remove_segment(stale_key);
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "alive") != NULL, "%s", r.err);

    stale_key = tk_sysv_key();
    (void) snprintf(key, sizeof key, "0x%08x", (unsigned) stale_key);
    ck_assert_int_eq(tk_wait(tk_fork(create_segment, NULL), RUN_WAIT), 0);
    id = shmget(stale_key, 0, 0);
    ck_assert_int_ge(id, 0);
    at = shmat(id, NULL, SHM_RDONLY);
    ck_assert(at != (void *) -1);
    run(&r, NULL, "rm", "--stale", key, NULL);
    (void) shmdt(at);
    if (r.status != 1)
        remove_segment(stale_key);
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "attached") != NULL, "%s", r.err);
    ck_assert(segment_exists(stale_key));
    run(&r, NULL, "rm", "--stale", key, NULL);
    remove_segment(stale_key);
    ck_assert_exit(&r, 0);
}
END_TEST

/* ipckit's own objects: a ring whose creator exited without removing it. */
static char ring_name[128];

static int
create_ring_and_vanish(void *arg)
{
    ipckit_channel *ch = NULL;
    (void) arg;
    if (ipckit_open(&ch, ring_name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, NULL) < 0)
        return 1;
    _exit(0); /* no close, no unlink: as if killed */
}

static bool
ring_exists(void)
{
    char path[160];
    (void) snprintf(path, sizeof path, "/dev/shm%s", strchr(ring_name, ':') + 1);
    return access(path, F_OK) == 0;
}

START_TEST(stale_ring)
{
    char pname[96];
    struct result r;
    ipckit_channel *ch = NULL;

    /* the creator is alive: kept */
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(ring_name, sizeof ring_name, "shm:%s", pname);
    ck_assert_int_eq(ipckit_open(&ch, ring_name, IPCKIT_SEND | IPCKIT_CREATE, NULL), 0);
    run(&r, NULL, "rm", "--stale", ring_name, NULL);
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "creator is alive") != NULL, "%s", r.err);
    ck_assert(ring_exists());
    run(&r, NULL, "stat", "--json", ring_name, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "\"creator_alive\": true") != NULL, "%s", r.out);
    {
        /* the creator's pid with another start time in the header: a reused
         * pid, so stat calls the creator gone (as ls does) */
        char path[128];
        uint64_t other = 1, saved;
        int fd;
        (void) snprintf(path, sizeof path, "/dev/shm%s", pname);
        fd = open(path, O_RDWR | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pread(fd, &saved, sizeof saved, 48), (ssize_t) sizeof saved);
        ck_assert_int_eq(pwrite(fd, &other, sizeof other, 48), (ssize_t) sizeof other);
        run(&r, NULL, "stat", "--json", ring_name, NULL);
        ck_assert_exit(&r, 0);
        ck_assert_msg(strstr(r.out, "\"creator_alive\": false") != NULL, "%s", r.out);
        ck_assert_int_eq(pwrite(fd, &saved, sizeof saved, 48), (ssize_t) sizeof saved);
        ck_assert_int_eq(close(fd), 0);
    }
    ck_assert_int_eq(ipckit_close(ch), 0);
    ck_assert_int_eq(ipckit_unlink(ring_name), 0);

    /* the creator is gone but a live process has it mapped: kept */
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(ring_name, sizeof ring_name, "shm:%s", pname);
    ck_assert_int_eq(tk_wait(tk_fork(create_ring_and_vanish, NULL), RUN_WAIT), 0);
    ck_assert(ring_exists());
    ck_assert_int_eq(ipckit_open(&ch, ring_name, IPCKIT_RECV, NULL), 0);
    run(&r, NULL, "rm", "--stale", ring_name, NULL);
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "open or mapped") != NULL, "%s", r.err);
    ck_assert(ring_exists());
    ck_assert_int_eq(ipckit_close(ch), 0);

    /* nobody uses it any more: listed as stale, then removed */
    run(&r, NULL, "ls", NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "rm", "--stale", "--dry-run", ring_name, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "would remove ring") != NULL, "%s", r.out);
    ck_assert(ring_exists());
    run(&r, NULL, "rm", "--stale", ring_name, NULL);
    ck_assert_exit(&r, 0);
    ck_assert(!ring_exists());
}
END_TEST

/* ---- names that are not plain text ------------------------------------------------- */

/*
 * Object names are anybody's bytes: a POSIX shared memory object and a FIFO
 * whose names hold a newline, escape sequences, DEL and a byte that is not
 * UTF-8 are listed on one line each, with those bytes escaped, and no
 * control byte reaches the output; --json escapes them its own way.
 */
START_TEST(ls_escapes_names)
{
    char base[128], shm[256], fifo[700], want_shm[400], want_fifo[400];
    struct result r, j;
    int fd;
    tk_posix_name(base, sizeof base);
    (void) snprintf(shm, sizeof shm, "%s\nfake-row 0x1c0ffee\x1b[2J\x7f\xff", base);
    (void) snprintf(want_shm, sizeof want_shm,
                    "/dev/shm%s\\nfake-row 0x1c0ffee\\x1b[2J\\x7f\\xff", base);
    tk_path(fifo, sizeof fifo, "pipe\tx\nfake-fifo\x1b]0;t\x07\\");
    (void) snprintf(want_fifo, sizeof want_fifo, "pipe\\tx\\nfake-fifo\\x1b]0;t\\x07\\\\");
    fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    (void) close(fd);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);

    run(&r, NULL, "ls", tk_dir(), NULL);
    run(&j, NULL, "ls", "--json", tk_dir(), NULL);
    (void) shm_unlink(shm);
    (void) unlink(fifo);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, want_shm) != NULL, "no %s in:\n%s", want_shm, r.out);
    ck_assert_msg(strstr(r.out, want_fifo) != NULL, "no %s in:\n%s", want_fifo, r.out);
    ck_assert_msg(strstr(r.out, "\nfake-") == NULL, "a name made a row of its own:\n%s", r.out);
    for (size_t k = 0; k < r.outlen; k++) {
        unsigned char c = (unsigned char) r.out[k];
        ck_assert_msg((c >= 0x20 && c != 0x7f && c != 0xff) || c == '\n',
                      "byte 0x%02x at %zu of:\n%s", c, k, r.out);
    }
    ck_assert_exit(&j, 0);
    ck_assert_msg(strstr(j.out, "\\nfake-row 0x1c0ffee\\u001b[2J\\u007f") != NULL &&
                      strstr(j.out, "\\nfake-fifo\\u001b]0;t\\u0007") != NULL,
                  "json: %s", j.out);
}
END_TEST

/* A name that starts with a dot is listed, and rm --stale considers it. */
START_TEST(dot_names_listed)
{
    char pname[96], dotted[100];
    struct result r, dry;
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(dotted, sizeof dotted, "/.%s", pname + 1);
    (void) snprintf(ring_name, sizeof ring_name, "shm:%s", dotted);
    ck_assert_int_eq(tk_wait(tk_fork(create_ring_and_vanish, NULL), RUN_WAIT), 0);
    ck_assert(ring_exists());

    run(&r, NULL, "ls", tk_dir(), NULL);
    run(&dry, NULL, "rm", "--stale", "--dry-run", NULL);
    if (strstr(r.out, dotted) == NULL || strstr(dry.out, dotted) == NULL)
        (void) ipckit_unlink(ring_name); /* the dot name escapes the leak check */
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, dotted) != NULL, "%s not listed:\n%s", dotted, r.out);
    ck_assert_exit(&dry, 0);
    ck_assert_msg(strstr(dry.out, dotted) != NULL, "%s not considered:\n%s", dotted, dry.out);
    run(&r, NULL, "rm", "--stale", ring_name, NULL);
    if (ring_exists())
        (void) ipckit_unlink(ring_name);
    ck_assert_exit(&r, 0);
}
END_TEST

/* ---- creator records: queues, POSIX queues and FIFOs -------------------------------- */

struct crow {
    const char *scheme;
    void (*make)(char *n, size_t cap, char *ndl, size_t ncap);
    unsigned flags;     /* how a creator opens it (a FIFO's reader does not wait) */
};

static void
make_posixmq(char *n, size_t cap, char *ndl, size_t ncap)
{
    char posix[128];
    tk_posix_name(posix, sizeof posix);
    (void) snprintf(n, cap, "posixmq:%s", posix);
    (void) snprintf(ndl, ncap, "%s", n);
}

static const struct crow all_crows[] = {
    { "fifo", make_fifo, IPCKIT_RECV },
    { "mq", make_mq, IPCKIT_SEND | IPCKIT_RECV },
    { "posixmq", make_posixmq, IPCKIT_SEND | IPCKIT_RECV },
};

static const struct crow *crows[sizeof all_crows / sizeof all_crows[0]];
static int ncrows;
static const struct crow *crow;

static void
pick_crows(void)
{
    for (size_t i = 0; i < sizeof all_crows / sizeof all_crows[0]; i++)
        if (ipckit_backend_find(all_crows[i].scheme) != NULL)
            crows[ncrows++] = &all_crows[i];
}

static void
crow_setup(int i)
{
    crow = crows[i];
    crow->make(name, sizeof name, needle, sizeof needle);
}

static ipckit_opts
crow_opts(void)
{
    ipckit_opts o = IPCKIT_OPTS_INIT;
    if (strcmp(crow->scheme, "posixmq") == 0) {
        o.capacity = 4; /* RLIMIT_MSGQUEUE is shared by every test of this user */
        o.max_msg_size = 64;
    }
    return o;
}

/* Create the object and exit without closing or removing it. */
static int
create_and_vanish(void *arg)
{
    ipckit_channel *ch = NULL;
    ipckit_opts o = crow_opts();
    (void) arg;
    if (ipckit_open(&ch, name, crow->flags | IPCKIT_CREATE | IPCKIT_EXCL, &o) < 0)
        return 1;
    _exit(0);
}

/* Create the object, open the gate, and wait to be killed. */
static int
create_and_wait(void *arg)
{
    ipckit_channel *ch = NULL;
    ipckit_opts o = crow_opts();
    (void) prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test does not leave it behind */
    if (ipckit_open(&ch, name, crow->flags | IPCKIT_CREATE | IPCKIT_EXCL, &o) < 0)
        return 1;
    tk_gate_open(arg);
    for (;;)
        (void) pause();
}

static pid_t
vanished_creator(void)
{
    pid_t pid = tk_fork(create_and_vanish, NULL);
    ck_assert_int_eq(tk_wait(pid, RUN_WAIT), 0);
    return pid;
}

/* The JSON object of "ipckit ls --json" that mentions @p what, copied to @p buf. */
static bool
ls_json_object(const char *out, const char *what, char *buf, size_t cap)
{
    const char *at = strstr(out, what), *start, *end;
    if (at == NULL)
        return false;
    for (start = at; start > out && *start != '{'; start--)
        ;
    end = strchr(at, '}');
    if (end == NULL)
        return false;
    (void) snprintf(buf, cap, "%.*s", (int) (end - start + 1), start);
    return true;
}

/* The JSON object of the row's object in "ipckit ls --json"; false when it
 * is not listed. */
static bool
ls_creator_maybe(char *obj, size_t cap)
{
    struct result r;
    run(&r, NULL, "ls", "--json", tk_dir(), NULL);
    ck_assert_exit(&r, 0);
    return ls_json_object(r.out, needle, obj, cap);
}

static void
ls_creator(char *obj, size_t cap)
{
    ck_assert_msg(ls_creator_maybe(obj, cap), "%s not listed", needle);
}

static bool
object_exists(void)
{
    ipckit_stat st;
    return ipckit_stat_name(name, &st) == 0;
}

/* ls shows the recorded creator: alive while it runs, gone once killed. */
START_TEST(creator_alive_then_gone)
{
    char obj[2048], want[64], rec[128];
    struct result r;
    tk_gate gate;
    pid_t pid;
    crow_setup(_i);
    tk_gate_init(&gate);
    pid = tk_fork(create_and_wait, &gate);
    ck_assert_int_eq(tk_gate_wait(&gate, RUN_WAIT), 0);
    tk_gate_close(&gate);

    ls_creator(obj, sizeof obj);
    (void) snprintf(want, sizeof want, "\"creator_pid\": %ld,", (long) pid);
    ck_assert_msg(strstr(obj, want) && strstr(obj, "\"creator_alive\": true") &&
                      strstr(obj, "\"ipckit\": \"record\""),
                  "creator %ld not shown alive: %s", (long) pid, obj);
    run(&r, NULL, "stat", "--json", name, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, want) && strstr(r.out, "\"creator_alive\": true"), "%s", r.out);
    run(&r, NULL, "ls", tk_dir(), NULL);
    ck_assert_exit(&r, 0);
    {
        char *line = strstr(r.out, needle);
        (void) snprintf(want, sizeof want, " %ld yes   record ", (long) pid);
        ck_assert_msg(line != NULL, "%s not in %s", needle, r.out);
        while (line > r.out && line[-1] != '\n')
            line--;
        ck_assert_msg(strstr(line, want) != NULL && strstr(line, want) < strchr(line, '\n'),
                      "no \"%s\" in: %.200s", want, line);
    }

    /* the same pid with another start time is a reused pid: not the creator */
    {
        static char good[20000], other[20000];
        char *start, *end;
        ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
        ck_assert_int_gt(tk_read_file(rec, good, sizeof good), 0);
        start = strstr(good, " start=");
        ck_assert_ptr_nonnull(start);
        end = strchr(start + 1, ' ');
        (void) snprintf(other, sizeof other, "%.*s start=1%s", (int) (start - good), good, end);
        ck_assert_int_eq(unlink(rec), 0);
        ck_assert_int_eq(tk_plant(rec, other, geteuid()), 0);
        ls_creator(obj, sizeof obj);
        (void) snprintf(want, sizeof want, "\"creator_pid\": %ld,", (long) pid);
        ck_assert_msg(strstr(obj, want) && strstr(obj, "\"creator_alive\": false"),
                      "creator with another start time not shown gone: %s", obj);
        run(&r, NULL, "stat", "--json", name, NULL);
        ck_assert_exit(&r, 0);
        ck_assert_msg(strstr(r.out, "\"creator_alive\": false") != NULL, "%s", r.out);
        ck_assert_int_eq(unlink(rec), 0);
        ck_assert_int_eq(tk_plant(rec, good, geteuid()), 0);
    }

    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(tk_wait(pid, RUN_WAIT), 128 + SIGKILL);
    ls_creator(obj, sizeof obj);
    (void) snprintf(want, sizeof want, "\"creator_pid\": %ld,", (long) pid);
    ck_assert_msg(strstr(obj, want) && strstr(obj, "\"creator_alive\": false"),
                  "creator %ld not shown gone: %s", (long) pid, obj);

    /* ipckit rm removes the record with the object */
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_eq(access(rec, F_OK), 0);
    remove_ok();
    ck_assert_int_eq(access(rec, F_OK), -1);
}
END_TEST

/* A POSIX queue or FIFO whose creator is gone is kept while a live process
 * holds it open, and removed with its record once nobody does. */
START_TEST(stale_kept_while_open)
{
    char rec[128];
    struct result r;
    ipckit_channel *ch = NULL;
    ipckit_opts o;
    crow_setup(_i);
    (void) vanished_creator();
    o = crow_opts();
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_RECV, &o), 0);
    run(&r, NULL, "rm", "--stale", name, NULL);
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "a process has it open") != NULL, "%s", r.err);
    ck_assert(object_exists());
    ck_assert_int_eq(ipckit_close(ch), 0);

    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    run(&r, NULL, "rm", "--stale", "--dry-run", name, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "would remove") != NULL, "%s", r.out);
    ck_assert(object_exists());
    run(&r, NULL, "rm", "--stale", name, NULL);
    ck_assert_exit(&r, 0);
    ck_assert(!object_exists());
    ck_assert_int_eq(access(rec, F_OK), -1);
}
END_TEST

static int
send_one(void *arg)
{
    ipckit_channel *ch = NULL;
    (void) arg;
    if (ipckit_open(&ch, name, IPCKIT_SEND, NULL) < 0 || ipckit_send(ch, "m", 1, 0) < 0)
        return 1;
    return ipckit_close(ch) < 0;
}

static int
recv_one(void *arg)
{
    ipckit_channel *ch = NULL;
    char buf[8];
    (void) arg;
    if (ipckit_open(&ch, name, IPCKIT_RECV, NULL) < 0 || ipckit_recv(ch, buf, sizeof buf, 0) != 1)
        return 1;
    return ipckit_close(ch) < 0;
}

static void
stale_queue_kept(const char *says)
{
    struct result r;
    run(&r, NULL, "rm", "--stale", name, NULL);
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, says) != NULL, "want \"%s\": %s", says, r.err);
    ck_assert(object_exists());
}

/*
 * A System V queue has no "open": it is kept while its creator, its last
 * sender or its last receiver is alive, and removed with its record once
 * all three are gone.
 */
START_TEST(stale_queue)
{
    char rec[128], says[64];
    ipckit_channel *ch = NULL;
    char buf[8];
    struct result r;
    crow_setup(_i);
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_CREATE | IPCKIT_EXCL, NULL), 0);
    (void) snprintf(says, sizeof says, "its creator (pid %ld) is alive", (long) getpid());
    stale_queue_kept(says);
    ck_assert_int_eq(ipckit_close(ch), 0);
    remove_ok();

    crow_setup(_i);
    (void) vanished_creator();
    ck_assert_int_eq(ipckit_open(&ch, name, IPCKIT_SEND | IPCKIT_RECV, NULL), 0);
    ck_assert_int_eq(ipckit_send(ch, "m", 1, 0), 0);
    (void) snprintf(says, sizeof says, "its last sender (pid %ld) is alive", (long) getpid());
    stale_queue_kept(says);
    ck_assert_int_eq(tk_wait(tk_fork(send_one, NULL), RUN_WAIT), 0); /* sender gone */
    ck_assert_int_eq(ipckit_recv(ch, buf, sizeof buf, 0), 1);
    (void) snprintf(says, sizeof says, "its last receiver (pid %ld) is alive", (long) getpid());
    stale_queue_kept(says);
    ck_assert_int_eq(tk_wait(tk_fork(recv_one, NULL), RUN_WAIT), 0); /* receiver gone */
    ck_assert_int_eq(ipckit_close(ch), 0);

    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    run(&r, NULL, "rm", "--stale", "--dry-run", name, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "would remove queue") != NULL, "%s", r.out);
    run(&r, NULL, "rm", "--stale", name, NULL);
    ck_assert_exit(&r, 0);
    ck_assert(!object_exists());
    ck_assert_int_eq(access(rec, F_OK), -1);
}
END_TEST

/* ---- rm --stale and what a stale object still holds ---------------------------------- */

/* The line of @p out that contains @p needle, copied to @p buf ("" if none). */
static const char *
line_of(const char *out, const char *mark, char *buf, size_t cap)
{
    const char *at = strstr(out, mark), *start, *end;
    buf[0] = '\0';
    if (at == NULL)
        return buf;
    for (start = at; start > out && start[-1] != '\n'; start--)
        ;
    end = strchr(at, '\n');
    (void) snprintf(buf, cap, "%.*s", (int) ((end ? end : at + strlen(at)) - start), start);
    return buf;
}

static bool
starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * The object behind @p arg, whose lines in rm --stale's output contain
 * @p mark, is stale and holds @p counts ("1 message, 5 bytes") @p verb
 * ("queued", or NULL):
 * rm --stale keeps it and says so, --discard would remove it, and naming it
 * removes it, saying what it dropped. The sweeps without arguments are
 * dry runs: a real one would judge every object on the machine, other test
 * runs' too. The dry run takes the same decision; only the removal is left
 * out, and that is done by naming the object.
 */
static void
pending_kept_unless_asked(const char *arg, const char *mark, const char *counts,
                          const char *verb, bool (*exists)(void))
{
    char line[1024], want[256], holds[128];
    struct result r;

    (void) snprintf(holds, sizeof holds, "%s%s%s", counts, verb ? " " : "", verb ? verb : "");

    run(&r, NULL, "rm", "--stale", "--dry-run", NULL);
    ck_assert_exit(&r, 0);
    line_of(r.out, mark, line, sizeof line);
    (void) snprintf(want, sizeof want, ": %s; name it or use --discard", holds);
    ck_assert_msg(starts_with(line, "kept ") && strstr(line, want) != NULL &&
                      strstr(line, arg) != NULL,
                  "want \"kept %s%s\", got \"%s\" in:\n%s", arg, want, line, r.out);

    run(&r, NULL, "rm", "--stale", "--dry-run", "--discard", NULL);
    ck_assert_exit(&r, 0);
    line_of(r.out, mark, line, sizeof line);
    (void) snprintf(want, sizeof want, "; %s)", holds);
    ck_assert_msg(starts_with(line, "would remove ") && strstr(line, want) != NULL,
                  "want \"would remove ...%s\", got \"%s\"", want, line);
    ck_assert(exists());

    (void) snprintf(want, sizeof want, "; dropped %s)", counts);
    run(&r, NULL, "rm", "--stale", arg, NULL);
    ck_assert_exit(&r, 0);
    line_of(r.out, mark, line, sizeof line);
    ck_assert_msg(starts_with(line, "removed ") && strstr(line, want) != NULL,
                  "want \"removed ...%s\", got \"%s\"", want, r.out);
    ck_assert(!exists());
}

/* An empty stale object is removed by the sweep, as before. */
static void
empty_still_removed(const char *arg, const char *mark, bool (*exists)(void))
{
    char line[1024];
    struct result r;
    run(&r, NULL, "rm", "--stale", "--dry-run", NULL);
    ck_assert_exit(&r, 0);
    line_of(r.out, mark, line, sizeof line);
    ck_assert_msg(starts_with(line, "would remove ") && strstr(line, "; empty)") != NULL,
                  "got \"%s\" in:\n%s", line, r.out);
    run(&r, NULL, "rm", "--stale", arg, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(r.outlen == 0, "an empty object's removal printed: %s", r.out);
    ck_assert(!exists());
}

/*
 * A queue or POSIX queue made by "ipckit send --create" (as in the README),
 * whose sender exits with the message still queued: stale, but it holds a
 * message nobody has received.
 */
START_TEST(stale_queue_with_message)
{
    const char *mark;
    struct result r;
    crow_setup(_i);
    /* mq: the key, "0x..."; posixmq: "/ipckit-test..." */
    mark = strcmp(crow->scheme, "mq") == 0 ? needle : strchr(name, ':') + 1;
    run(&r, NULL, "send", "--create", "--max-size", "64", name, "hello", NULL);
    ck_assert_exit(&r, 0);
    pending_kept_unless_asked(name, mark, "1 message, 5 bytes", "queued", object_exists);

    run(&r, NULL, "recv", "--create", "--max-size", "64", "--timeout", "0", name, NULL);
    ck_assert_exit(&r, 3);
    empty_still_removed(name, mark, object_exists);
}
END_TEST

static char shm_obj[128];

static bool
shm_obj_exists(void)
{
    char path[160];
    (void) snprintf(path, sizeof path, "/dev/shm%s", strchr(shm_obj, ':') + 1);
    return access(path, F_OK) == 0;
}

/* A ring left by "ipckit send --create" with a message in it. */
START_TEST(stale_ring_with_message)
{
    char pname[96];
    struct result r;
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(shm_obj, sizeof shm_obj, "shm:%s", pname);
    run(&r, NULL, "send", "--create", shm_obj, "hello", NULL);
    ck_assert_exit(&r, 0);
    /* a record of 16 bytes and 5 padded to 16 */
    pending_kept_unless_asked(shm_obj, pname, "1 message, 32 bytes", "queued",
                              shm_obj_exists);

    tk_posix_name(pname, sizeof pname);
    (void) snprintf(shm_obj, sizeof shm_obj, "shm:%s", pname);
    run(&r, NULL, "recv", "--create", "--timeout", "0", shm_obj, NULL);
    ck_assert_exit(&r, 3);
    empty_still_removed(shm_obj, pname, shm_obj_exists);

    /* head beyond tail: what it holds cannot be told, so it is kept too */
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(shm_obj, sizeof shm_obj, "shm:%s", pname);
    run(&r, NULL, "recv", "--create", "--timeout", "0", shm_obj, NULL);
    ck_assert_exit(&r, 3);
    {
        char path[160], line[1024];
        uint64_t head = 4096;
        int fd;
        (void) snprintf(path, sizeof path, "/dev/shm%s", pname);
        fd = open(path, O_RDWR | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pwrite(fd, &head, sizeof head, 256), (ssize_t) sizeof head);
        ck_assert_int_eq(close(fd), 0);
        run(&r, NULL, "rm", "--stale", "--dry-run", NULL);
        ck_assert_exit(&r, 0);
        line_of(r.out, pname, line, sizeof line);
        ck_assert_msg(starts_with(line, "kept ") &&
                          strstr(line, ": cannot tell what it holds: its indexes are out of"
                                       " range; name it or use --discard") != NULL,
                      "got \"%s\"", line);
        run(&r, NULL, "rm", "--stale", shm_obj, NULL);
        ck_assert_exit(&r, 0);
        ck_assert_msg(strstr(r.out, "dropped what it held, unknown") != NULL, "%s", r.out);
        ck_assert(!shm_obj_exists());
    }
}
END_TEST

/* Create a region of 4096 bytes, put what @p arg says in it, and exit
 * without closing or removing it. */
static int
create_region_and_vanish(void *arg)
{
    ipckit_region *g = NULL;
    const char *what = arg;
    if (ipckit_region_open(&g, shm_obj, IPCKIT_CREATE | IPCKIT_EXCL, 4096, NULL) < 0)
        return 1;
    if (strcmp(what, "variable") == 0 && ipckit_region_put(g, 7, "v", 1) < 0)
        return 1;
    if (strcmp(what, "data") == 0)
        ((char *) ipckit_region_data(g))[4000] = 'x';
    if (strcmp(what, "removed") == 0 &&
        (ipckit_region_put(g, 7, "v", 1) < 0 || ipckit_region_remove(g, 7) < 0))
        return 1;
    _exit(0);
}

static void
stale_region(const char *what)
{
    char pname[96];
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(shm_obj, sizeof shm_obj, "shm:%s", pname);
    ck_assert_int_eq(tk_wait(tk_fork(create_region_and_vanish, (void *) what), RUN_WAIT), 0);
    ck_assert(shm_obj_exists());
    if (strcmp(what, "variable") == 0)
        pending_kept_unless_asked(shm_obj, pname, "1 variable, 1 byte", "set", shm_obj_exists);
    else if (strcmp(what, "data") == 0)
        pending_kept_unless_asked(shm_obj, pname, "4096 bytes of data, not all zero", NULL,
                                  shm_obj_exists);
    else
        empty_still_removed(shm_obj, pname, shm_obj_exists);
}

/* A region holds state when its variable store has a variable, or when its
 * data area (used without the store) is not all zero. */
START_TEST(stale_region_with_state)
{
    stale_region("variable");
    stale_region("data");
    stale_region("removed"); /* a variable put, then removed: nothing held */
    stale_region("nothing");
}
END_TEST

/* The line of "ipckit ls" (the table) that mentions @p mark, in @p buf. */
static void
ls_line(const char *mark, char *buf, size_t cap)
{
    struct result r;
    const char *at, *start, *end;
    run(&r, NULL, "ls", tk_dir(), NULL);
    ck_assert_exit(&r, 0);
    at = strstr(r.out, mark);
    ck_assert_msg(at != NULL, "%s not listed:\n%s", mark, r.out);
    for (start = at; start > r.out && start[-1] != '\n'; start--)
        ;
    end = strchr(at, '\n');
    (void) snprintf(buf, cap, "%.*s", (int) ((end ? end : at + strlen(at)) - start), start);
}

/*
 * A region: "ipckit stat shm:NAME" describes it (data size, variables,
 * creator, mode), as text and as JSON, and "ipckit ls" names it shm:NAME,
 * the name one types, not by its path in /dev/shm. A region whose data area
 * is no variable store has no variable count.
 */
START_TEST(region_stat_and_name)
{
    char pname[96], want[512], line[1024];
    struct result r;
    pid_t pid;
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(shm_obj, sizeof shm_obj, "shm:%s", pname);
    pid = tk_fork(create_region_and_vanish, (void *) "variable");
    ck_assert_int_eq(tk_wait(pid, RUN_WAIT), 0);

    run(&r, NULL, "stat", shm_obj, NULL);
    ck_assert_exit(&r, 0);
    (void) snprintf(want,  sizeof want,
                    "name           %s\nkind           region\nmode           0600\n"
                    "data_size      4096\nvariables      1\nbytes          1\n"
                    "creator_pid    %ld\ncreator_alive  no\n",
                    shm_obj, (long) pid);
    ck_assert_str_eq(r.out, want);
    run(&r, NULL, "stat", "--json", shm_obj, NULL);
    ck_assert_exit(&r, 0);
    (void) snprintf(want, sizeof want,
                    "{\"name\": \"%s\", \"kind\": \"region\", \"mode\": \"0600\", \"data_size\": 4096,"
                    " \"variables\": 1, \"bytes\": 1, \"creator_pid\": %ld,"
                    " \"creator_alive\": false}\n",
                    shm_obj, (long) pid);
    ck_assert_str_eq(r.out, want);

    ls_line(pname, line, sizeof line);
    (void) snprintf(want, sizeof want, " region %s", shm_obj);
    ck_assert_msg(strstr(line, want) != NULL && strstr(line, "/dev/shm") == NULL,
                  "want \"%s\" and no /dev/shm path: %s", want, line);
    run(&r, NULL, "rm", shm_obj, NULL);
    ck_assert_exit(&r, 0);
    ck_assert(!shm_obj_exists());

    tk_posix_name(pname, sizeof pname);
    (void) snprintf(shm_obj, sizeof shm_obj, "shm:%s", pname);
    ck_assert_int_eq(tk_wait(tk_fork(create_region_and_vanish, (void *) "data"), RUN_WAIT), 0);
    run(&r, NULL, "stat", shm_obj, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "data_size      4096\nvariables      -\nbytes          -\n"),
                  "%s", r.out);
    run(&r, NULL, "rm", shm_obj, NULL);
    ck_assert_exit(&r, 0);
}
END_TEST

/* "ipckit ls" shows what waits in a ring, as it does for a queue: the
 * messages (COUNT) and their bytes (BYTES), with the object's size in the
 * JSON "size". */
START_TEST(ring_fill_listed)
{
    char pname[96], obj[2048], want[160];
    struct result r;
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(shm_obj, sizeof shm_obj, "shm:%s", pname);
    run(&r, NULL, "send", "--create", shm_obj, "hello", "world", NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "ls", "--json", tk_dir(), NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(ls_json_object(r.out, pname, obj, sizeof obj), "%s not listed", pname);
    /* a record of 16 bytes and 5 padded to 16, twice */
    ck_assert_msg(strstr(obj, "\"bytes\": 64,") && strstr(obj, "\"count\": 2,") &&
                      strstr(obj, "\"ipckit\": \"ring\"") && !strstr(obj, "\"size\": null"),
                  "%s", obj);
    ls_line(pname, obj, sizeof obj);
    ck_assert_msg(strstr(obj, "         64     2 ") != NULL, "%s", obj);
    run(&r, NULL, "recv", "--count", "2", "--timeout", "0", shm_obj, NULL);
    ck_assert_exit(&r, 0);
    ls_line(pname, obj, sizeof obj);
    ck_assert_msg(strstr(obj, "          0     0 ") != NULL, "%s", obj);
    (void) snprintf(want, sizeof want, " %s", shm_obj);
    ck_assert_msg(strstr(obj, want) != NULL, "%s", obj);
    run(&r, NULL, "rm", shm_obj, NULL);
    ck_assert_exit(&r, 0);
}
END_TEST

/* Remove the object behind the ipckit's back, as ipcrm, rm or PHP would. */
static void
remove_behind_back(void)
{
    if (strcmp(crow->scheme, "mq") == 0) {
        key_t k = (key_t) strtoul(name + 3, NULL, 16);
        int id = msgget(k, 0);
        char companion[64];
        ck_assert_int_eq(msgctl(id, IPC_RMID, NULL), 0);
        /* its wake-up companion stays too, until a sweep (test_sysv_mq:
         * remove_stale_sweeps_orphan_companions) */
        (void) snprintf(companion, sizeof companion, "/dev/shm/ipckit-mq.%08x.%d", (unsigned) k,
                        id);
        ck_assert_int_eq(unlink(companion), 0);
    } else if (strcmp(crow->scheme, "posixmq") == 0) {
        ck_assert_int_eq(mq_unlink(strchr(name, ':') + 1), 0);
    } else {
        ck_assert_int_eq(unlink(needle), 0);
    }
    ck_assert(!object_exists());
}

/* A record whose object was removed without ipckit is an orphan: rm --stale
 * removes it, only its owner's (or root), and only it with a name given. */
START_TEST(orphan_records_swept)
{
    char rec[128], line[200];
    struct result r;
    crow_setup(_i);
    (void) vanished_creator();
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    remove_behind_back();
    ck_assert_int_eq(access(rec, F_OK), 0);

    (void) snprintf(line, sizeof line, "would remove record %s", rec);
    run(&r, NULL, "rm", "--stale", "--dry-run", NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, line) != NULL, "want \"%s\": %s", line, r.out);
    ck_assert_int_eq(access(rec, F_OK), 0);

    if (geteuid() == 0) {
        /* another user leaves root's record alone (and can see the FIFO's
         * directory, so that it can tell the FIFO is gone) */
        ck_assert_int_eq(chmod(tk_dir(), 0755), 0);
        spawn_uid = 65534;
        run(&r, NULL, "rm", "--stale", name, NULL);
        spawn_uid = 0;
        ck_assert_exit(&r, 1);
        ck_assert_msg(strstr(r.err, "belongs to another user") != NULL, "%s", r.err);
        ck_assert_int_eq(access(rec, F_OK), 0);
    }

    run(&r, NULL, "rm", "--stale", "--verbose", name, NULL);
    ck_assert_exit(&r, 0);
    (void) snprintf(line, sizeof line, "removed record %s", rec);
    ck_assert_msg(strstr(r.out, line) != NULL, "want \"%s\": %s", line, r.out);
    ck_assert_int_eq(access(rec, F_OK), -1);
    run(&r, NULL, "rm", "--stale", name, NULL);
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "no ") != NULL, "%s", r.err);
}
END_TEST

/* A record another user put there, or one that does not parse, is not
 * trusted: the creator is unknown, and rm --stale never removes the object
 * for it, nor sweeps such a file. */
START_TEST(untrusted_records_ignored)
{
    static char good[20000];
    char rec[128], obj[2048];
    struct result r;
    crow_setup(_i);
    (void) vanished_creator();
    ck_assert_int_eq(tk_record_path(name, rec, sizeof rec), 0);
    ck_assert_int_gt(tk_read_file(rec, good, sizeof good), 0);

    for (int k = 0; k < 2; k++) {
        if (k == 0) {
            if (geteuid() != 0)
                continue;
            ck_assert_int_eq(chown(rec, 65534, 65534), 0); /* another user's */
        } else {
            ck_assert_int_eq(truncate(rec, (off_t) strlen(good) - 1), 0); /* short */
        }
        if (ls_creator_maybe(obj, sizeof obj))
            ck_assert_msg(strstr(obj, "\"creator_pid\": null") &&
                              strstr(obj, "\"creator_alive\": null"),
                          "untrusted record used: %s", obj);
        else /* only found through its record when /dev/mqueue is missing */
            ck_assert_msg(strcmp(crow->scheme, "posixmq") == 0 && k == 1 &&
                              access("/dev/mqueue", F_OK) < 0,
                          "%s not listed", needle);
        run(&r, NULL, "rm", "--stale", name, NULL);
        ck_assert_exit(&r, 1);
        ck_assert_msg(strstr(r.err, "creator is unknown") != NULL, "%s", r.err);
        ck_assert(object_exists());
        run(&r, NULL, "rm", "--stale", "--dry-run", NULL);
        ck_assert_exit(&r, 0);
        ck_assert_msg(strstr(r.out, rec) == NULL, "would touch %s: %s", rec, r.out);
        ck_assert_int_eq(unlink(rec), 0);
        ck_assert_int_eq(tk_plant(rec, good, geteuid()), 0);
    }
    /* the good record again: stale (so the refusals above came from the
     * record), then removed by name with the object */
    run(&r, NULL, "rm", "--stale", "--dry-run", name, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "would remove") != NULL, "%s", r.out);
    remove_ok();
    ck_assert_int_eq(access(rec, F_OK), -1);
}
END_TEST


/* ---- ipckit region ----------------------------------------------------------------- */

/* The variables of an ipckit region (shm:), from the shell. */
START_TEST(region_vars_shm)
{
    char pname[96], n[128];
    struct result r;
    tk_posix_name(pname, sizeof pname);
    (void) snprintf(n, sizeof n, "shm:%s", pname);
    run(&r, NULL, "region", "get", n, "1", NULL);
    ck_assert_exit(&r, 1); /* no region */
    run(&r, NULL, "region", "put", "--create", "4096", n, "1", "hello", NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "region", "put", n, "2", "--int", "5", NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "region", "get", n, "1", NULL);
    ck_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "hello\n");
    run(&r, NULL, "region", "get", "-r", n, "1", NULL);
    ck_assert_str_eq(r.out, "hello");
    run(&r, NULL, "region", "get", "-x", n, "2", NULL); /* a C long */
    ck_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "0500000000000000\n");
    run(&r, NULL, "region", "ls", n, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "1\t5\thello\n2\t8\t\\x05\\x00\\x00\\x00\\x00\\x00\\x00\\x00\n");
    /* a long value: ls shows its start, get all of it */
    {
        static char big[1000];
        memset(big, 'y', sizeof big - 1);
        run(&r, NULL, "region", "put", n, "3", big, NULL);
        ck_assert_exit(&r, 0);
        run(&r, NULL, "region", "ls", n, NULL);
        ck_assert_msg(strstr(r.out, "3\t999\tyyy") != NULL && strstr(r.out, "y...\n") != NULL,
                      "%s", r.out);
        run(&r, NULL, "region", "get", n, "3", NULL);
        ck_assert_uint_eq(r.outlen, 1000);
        run(&r, NULL, "region", "rm", n, "3", NULL);
    }
    run(&r, NULL, "region", "rm", n, "1", NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "region", "get", n, "1", NULL);
    ck_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "no variable 1") != NULL, "%s", r.err);
    run(&r, NULL, "region", "rm", n, "1", NULL);
    ck_assert_exit(&r, 1);
    run(&r, NULL, "region", "rm", "-f", n, "1", NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "region", "unlink", n, NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "region", "unlink", n, NULL);
    ck_assert_exit(&r, 1);
    run(&r, NULL, "region", "unlink", "-f", n, NULL);
    ck_assert_exit(&r, 0);
}
END_TEST

/* The variables of PHP's segment (sysvshm:): PHP's text checked on the way
 * in, --php to read what it holds; PHP's mode 0666 needs --trust. */
START_TEST(region_vars_sysvshm)
{
    char n[64];
    struct result r;
    key_t k = tk_sysv_key();
    (void) snprintf(n, sizeof n, "sysvshm:%#x", (unsigned) k);
    run(&r, NULL, "region", "put", "-c", "10000", "-m", "0666", n, "1", "i:41;", NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "region", "ls", n, NULL);
    ck_assert_exit(&r, 1); /* writable by everyone, and not said so */
    ck_assert_msg(strstr(r.err, "everyone") != NULL, "%s", r.err);
    run(&r, NULL, "region", "-T", "*", "put", n, "2", "-s", "a b\"c", NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "region", "put", "-T", "*", n, "3", "not php", NULL);
    ck_assert_exit(&r, 2);
    ck_assert_msg(strstr(r.err, "not PHP-serialized") != NULL, "%s", r.err);
    run(&r, NULL, "region", "put", "-T", "*", "--", n, "-3", "a:1:{i:0;d:1.5;}", NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "region", "ls", "-T", "*", n, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "1\t5\ti:41;\n2\t12\ts:5:\"a b\"c\";\n-3\t16\ta:1:{i:0;d:1.5;}\n");
    run(&r, NULL, "region", "ls", "-p", "-T", "*", n, NULL);
    ck_assert_str_eq(r.out, "1\t5\t41\n2\t12\ta b\"c\n-3\t16\ta:1:{i:0;d:1.5;}\n");
    run(&r, NULL, "region", "get", "--php", "-T", "*", n, "1", NULL);
    ck_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "41\n");
    run(&r, NULL, "region", "put", "-T", "*", "-i", n, "1", "42", NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "region", "get", "-T", "*", n, "1", NULL);
    ck_assert_str_eq(r.out, "i:42;\n");
    run(&r, NULL, "region", "rm", "-T", "*", "--", n, "-3", "2", NULL);
    ck_assert_exit(&r, 0);
    run(&r, NULL, "region", "ls", "-T", "*", n, NULL);
    ck_assert_str_eq(r.out, "1\t5\ti:42;\n");
    run(&r, NULL, "region", "unlink", n, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_int_lt(shmget(k, 0, 0), 0);
}
END_TEST

/* "ipckit ls" shows PHP's segment and semaphore set as a pair, with the
 * sysvshm: name that opens them; nothing is attached to see it. */
START_TEST(ls_shows_php_pairs)
{
    ipckit_region *reg = NULL;
    char n[64], want[96], line[1024];
    key_t k = tk_sysv_key();
    (void) snprintf(n, sizeof n, "sysvshm:%#x", (unsigned) k);
    ck_assert_int_eq(ipckit_region_open(&reg, n, IPCKIT_CREATE | IPCKIT_EXCL, 4096, NULL), 0);
    ck_assert_int_eq(ipckit_region_close(reg), 0);
    (void) snprintf(want, sizeof want, "0x%08x", (unsigned) k);
    ls_line(want, line, sizeof line);
    ck_assert_msg(strncmp(line, "shm ", 4) == 0 && strstr(line, " php ") != NULL &&
                      strstr(line, n) != NULL,
                  "%s", line);
    {
        /* and the semaphore set's line */
        struct result r;
        bool seen = false;
        run(&r, NULL, "ls", tk_dir(), NULL);
        ck_assert_exit(&r, 0);
        for (char *l = strtok(r.out, "\n"); l != NULL; l = strtok(NULL, "\n"))
            if (strncmp(l, "sem ", 4) == 0 && strstr(l, want) != NULL)
                seen = strstr(l, " php ") != NULL && strstr(l, n) != NULL;
        ck_assert_msg(seen, "the semaphore set is not listed as PHP's");
    }
    {
        /* "ipckit rm" takes the name ls shows: both objects go */
        struct result r;
        run(&r, NULL, "rm", n, NULL);
        ck_assert_exit(&r, 0);
        ck_assert_int_lt(shmget(k, 0, 0), 0);
        ck_assert_int_lt(semget(k, 0, 0), 0);
        run(&r, NULL, "rm", n, NULL);
        ck_assert_exit(&r, 1);
        run(&r, NULL, "rm", "-f", n, NULL);
        ck_assert_exit(&r, 0);
    }
}
END_TEST

/* "ipckit stat" describes PHP's shared state (sysvshm:) from the kernel's
 * IPC_STAT of its segment and semaphore set, text and JSON; a name with no
 * segment is an error that says which key it looked for. */
START_TEST(stat_describes_sysvshm)
{
    ipckit_region *reg = NULL;
    struct result r;
    char n[64], want[160];
    key_t k = tk_sysv_key();
    (void) snprintf(n, sizeof n, "sysvshm:%#x", (unsigned) k);
    ck_assert_int_eq(ipckit_region_open(&reg, n, IPCKIT_CREATE | IPCKIT_EXCL, 4096, NULL), 0);
    ck_assert_int_eq(ipckit_region_close(reg), 0);
    run(&r, NULL, "stat", n, NULL);
    ck_assert_exit(&r, 0);
    (void) snprintf(want, sizeof want,
                    "kind           php region\nmode           0600\nsegment_key    0x%x\n"
                    "segment_id     %d\nsegment_size   4096\n",
                    (unsigned) k, shmget(k, 0, 0));
    ck_assert_msg(strstr(r.out, want) != NULL, "%s\nwant:\n%s", r.out, want);
    (void) snprintf(want, sizeof want, "semaphore_id   %d\nsemaphores     3\ncreator_pid    %ld\n",
                    semget(k, 0, 0), (long) getpid());
    ck_assert_msg(strstr(r.out, want) != NULL, "%s\nwant:\n%s", r.out, want);
    ck_assert_msg(strstr(r.out, "creator_alive  yes") != NULL, "%s", r.out);
    run(&r, NULL, "stat", "--json", n, NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "\"kind\": \"php region\"") != NULL &&
                      strstr(r.out, "\"semaphores\": 3") != NULL &&
                      strstr(r.out, "\"creator_alive\": true") != NULL,
                  "%s", r.out);
    ck_assert_int_eq(ipckit_region_unlink(n), 0);
    run(&r, NULL, "stat", n, NULL);
    ck_assert_exit(&r, 1);
    (void) snprintf(want, sizeof want, "its segment (key 0x%x)", (unsigned) k);
    ck_assert_msg(strstr(r.err, want) != NULL && strstr(r.err, "ENOENT") != NULL, "%s", r.err);
}
END_TEST

START_TEST(region_usage)
{
    struct result r;
    run(&r, NULL, "region", NULL);
    ck_assert_exit(&r, 2);
    run(&r, NULL, "region", "frob", "shm:x", NULL);
    ck_assert_exit(&r, 2);
    run(&r, NULL, "region", "get", "shm:x", NULL);
    ck_assert_exit(&r, 2);
    run(&r, NULL, "region", "get", "shm:x", "one", NULL);
    ck_assert_exit(&r, 2);
    run(&r, NULL, "region", "get", "--raw", "--hex", "shm:x", "1", NULL);
    ck_assert_exit(&r, 2);
    run(&r, NULL, "region", "put", "-i", "shm:x", "1", "x", NULL);
    ck_assert_exit(&r, 2);
    run(&r, NULL, "region", "ls", "mq:0x1234", NULL);
    ck_assert_exit(&r, 2); /* no region scheme */
    run(&r, NULL, "region", "--help", NULL);
    ck_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "sysvshm:") != NULL, "%s", r.out);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc;

    pick_rows();
    pick_crows();
    tc = tk_tcase("channels", 120);
    tcase_add_loop_test(tc, send_recv_args, 0, nrows);
    tcase_add_loop_test(tc, send_recv_stdin, 0, nrows);
    tcase_add_loop_test(tc, whole_and_hex, 0, nrows);
    tcase_add_loop_test(tc, recv_all, 0, nrows);
    tcase_add_loop_test(tc, trust_flag, 0, nrows);
    tcase_add_loop_test(tc, raw_binary, 0, nrows);
    tcase_add_loop_test(tc, recv_timeout, 0, nrows);
    tcase_add_loop_test(tc, ls_stat_rm, 0, nrows);
    if (ipckit_backend_find("mq") != NULL)
        tcase_add_test(tc, sysv_key_and_name);
    suite_add_tcase(s, tc);

    tc = tk_tcase("usage", 120);
    tcase_add_test(tc, bad_names);
    tcase_add_test(tc, errors_said_once);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, help_and_version);
    tcase_add_test(tc, bench_missing);
    tcase_add_test(tc, bench_peers_missing);
    tcase_add_test(tc, bench_base_refused);
    tcase_add_test(tc, key_of_name);
    tcase_add_test(tc, pid_file_not_followed);
    if (ipckit_backend_find("signal") != NULL)
        tcase_add_test(tc, signal_pid_file);
    else
        printf("test_cli: signal_pid_file skipped: no \"signal:\" backend in this build\n");
    tcase_add_test(tc, recv_follows_broadcast);
    suite_add_tcase(s, tc);

    tc = tk_tcase("stale", 120);
    tcase_add_test(tc, stale_removed);
    tcase_add_test(tc, stale_kept);
    if (ipckit_backend_find("shm") != NULL) {
        tcase_add_test(tc, stale_ring);
        tcase_add_test(tc, dot_names_listed);
        tcase_add_test(tc, stale_ring_with_message);
        tcase_add_test(tc, stale_region_with_state);
        tcase_add_test(tc, region_stat_and_name);
        tcase_add_test(tc, ring_fill_listed);
    }
    tcase_add_test(tc, ls_escapes_names);
    suite_add_tcase(s, tc);

    tc = tk_tcase("creators", 120);
    tcase_add_loop_test(tc, creator_alive_then_gone, 0, ncrows);
    tcase_add_loop_test(tc, orphan_records_swept, 0, ncrows);
    tcase_add_loop_test(tc, untrusted_records_ignored, 0, ncrows);
    for (int i = 0; i < ncrows; i++) {
        if (strcmp(crows[i]->scheme, "mq") == 0)
            tcase_add_loop_test(tc, stale_queue, i, i + 1);
        else
            tcase_add_loop_test(tc, stale_kept_while_open, i, i + 1);
        if (strcmp(crows[i]->scheme, "fifo") != 0)
            tcase_add_loop_test(tc, stale_queue_with_message, i, i + 1);
    }
    suite_add_tcase(s, tc);

    tc = tk_tcase("region", 120);
    if (ipckit_backend_find("shm") != NULL)
        tcase_add_test(tc, region_vars_shm);
    tcase_add_test(tc, region_vars_sysvshm);
    tcase_add_test(tc, stat_describes_sysvshm);
    tcase_add_test(tc, ls_shows_php_pairs);
    tcase_add_test(tc, region_usage);
    suite_add_tcase(s, tc);
    return tk_run(s);
}

/*
 * The "mem:" test backend; see tk_mem.h.
 */
#include "tk_mem.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mem_msg {
    long type;
    size_t len;
    struct mem_msg *next;
    unsigned char data[];
};

struct mem_queue {
    char name[64];
    struct mem_msg *head;
    size_t count;
    struct mem_queue *next;
};

struct mem_state {
    struct mem_queue *q;
    size_t max_msg;
};

static struct mem_queue *queues;
int tk_mem_opens, tk_mem_closes;

int
tk_mem_queues(void)
{
    int n = 0;
    for (struct mem_queue *q = queues; q != NULL; q = q->next)
        n++;
    return n;
}

static struct mem_queue *
mem_find(const char *name)
{
    for (struct mem_queue *q = queues; q != NULL; q = q->next)
        if (strcmp(q->name, name) == 0)
            return q;
    return NULL;
}

static int
mem_open(void *state, const ipckit_name *name, unsigned flags, const ipckit_opts *opts,
         const struct timespec *deadline)
{
    static const char *const params[] = { "fail", NULL };
    struct mem_state *st = state;
    const char *target = ipckit_name_target(name);
    struct mem_queue *q;
    int rc = ipckit_name_check_params(name, params);
    (void) deadline;
    if (rc < 0)
        return rc;
    if (ipckit_name_param(name, "fail") != NULL)
        return ipckit_backend_error(state, -EACCES, "mem: refusing \"%s\" as asked", target);
    if (strlen(target) >= sizeof q->name)
        return ipckit_backend_error(state, -EINVAL, "mem: name \"%s\" is too long", target);
    q = mem_find(target);
    if (q != NULL && (flags & IPCKIT_EXCL))
        return ipckit_backend_error(state, -EEXIST, "mem: queue \"%s\" exists", target);
    if (q == NULL && !(flags & IPCKIT_CREATE))
        return ipckit_backend_error(state, -ENOENT, "mem: no queue \"%s\"", target);
    if (q == NULL) {
        q = calloc(1, sizeof *q);
        if (q == NULL)
            return -ENOMEM;
        (void) snprintf(q->name, sizeof q->name, "%s", target);
        q->next = queues;
        queues = q;
    }
    st->q = q;
    st->max_msg = opts->max_msg_size ? opts->max_msg_size : TK_MEM_MAX_MSG;
    tk_mem_opens++;
    return 0;
}

static int
mem_close(void *state)
{
    (void) state;
    tk_mem_closes++;
    return 0;
}

static int
mem_unlink(const ipckit_name *name)
{
    struct mem_queue **pp;
    for (pp = &queues; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->name, ipckit_name_target(name)) == 0) {
            struct mem_queue *q = *pp;
            *pp = q->next;
            while (q->head) {
                struct mem_msg *m = q->head;
                q->head = m->next;
                free(m);
            }
            free(q);
            return 0;
        }
    }
    return -ENOENT;
}

static int
mem_send(void *state, long type, const void *buf, size_t len, const struct timespec *deadline)
{
    struct mem_state *st = state;
    struct mem_msg *m, **pp;
    while (st->q->count >= TK_MEM_CAPACITY) { /* a small capacity, to test waiting senders */
        if (ipckit_deadline_passed(deadline))
            return ipckit_deadline_error(deadline);
        (void) ipckit_deadline_sleep(deadline, 5);
    }
    m = malloc(sizeof *m + len);
    if (m == NULL)
        return -ENOMEM;
    m->type = type;
    m->len = len;
    m->next = NULL;
    if (len > 0)
        memcpy(m->data, buf, len);
    for (pp = &st->q->head; *pp != NULL; pp = &(*pp)->next)
        ;
    *pp = m;
    st->q->count++;
    return 0;
}

/* System V's rule: 0 any type, > 0 exactly that type, < 0 the lowest type
 * <= -selector (every type for LONG_MIN, whose negation does not exist). */
static int
mem_match(long selector, long type)
{
    if (selector == 0)
        return 1;
    if (selector > 0)
        return type == selector;
    return selector == LONG_MIN || type <= -selector;
}

static ssize_t
mem_recv(void *state, long selector, long *type, void *buf, size_t cap,
         const struct timespec *deadline)
{
    struct mem_state *st = state;
    for (;;) {
        struct mem_msg **pp, **best = NULL;
        for (pp = &st->q->head; *pp != NULL; pp = &(*pp)->next) {
            if (!mem_match(selector, (*pp)->type))
                continue;
            if (selector >= 0) {
                best = pp;
                break;
            }
            if (best == NULL || (*pp)->type < (*best)->type)
                best = pp;
        }
        if (best != NULL) {
            struct mem_msg *m = *best;
            size_t len = m->len;
            if (len > cap)
                return ipckit_backend_error(state, -EMSGSIZE,
                                            "mem: message of %zu bytes does not fit %zu", len,
                                            cap);
            if (len > 0)
                memcpy(buf, m->data, len);
            *type = m->type;
            *best = m->next;
            free(m);
            st->q->count--;
            return (ssize_t) len;
        }
        if (ipckit_deadline_passed(deadline))
            return ipckit_deadline_error(deadline);
        (void) ipckit_deadline_sleep(deadline, 5);
    }
}

static void
mem_info(void *state, unsigned *caps, size_t *max_msg_size)
{
    (void) caps;
    *max_msg_size = ((struct mem_state *) state)->max_msg;
}

const ipckit_backend tk_mem_backend = {
    .abi_version = IPCKIT_BACKEND_ABI,
    .scheme = "mem",
    .state_size = sizeof(struct mem_state),
    .caps = IPCKIT_CAP_TYPED | IPCKIT_CAP_SELECT | IPCKIT_CAP_MULTI_SEND | IPCKIT_CAP_MULTI_RECV,
    .open = mem_open,
    .close = mem_close,
    .unlink = mem_unlink,
    .send = mem_send,
    .recv = mem_recv,
    .info = mem_info,
};

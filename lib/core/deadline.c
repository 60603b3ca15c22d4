/*
 * ipckit: deadlines. Timeouts given in milliseconds are turned once into an
 * absolute CLOCK_MONOTONIC time, so that retries do not stretch them.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <time.h>

#include "internal.h"

/* A deadline that has always passed: "try once". Recognised without a clock read. */
static const struct timespec past = { 0, 0 };

static int
is_past_sentinel(const struct timespec *d)
{
    return d->tv_sec == 0 && d->tv_nsec == 0;
}

const struct timespec *
ipckit__deadline(int timeout_ms, struct timespec *storage)
{
    if (timeout_ms < 0)
        return NULL;
    if (timeout_ms == 0)
        return &past;
    (void) clock_gettime(CLOCK_MONOTONIC, storage);
    storage->tv_sec += timeout_ms / 1000;
    storage->tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
    if (storage->tv_nsec >= 1000000000L) {
        storage->tv_sec++;
        storage->tv_nsec -= 1000000000L;
    }
    return storage;
}

bool
ipckit_deadline_passed(const struct timespec *deadline)
{
    struct timespec now;
    if (deadline == NULL)
        return false;
    if (is_past_sentinel(deadline))
        return true;
    (void) clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

int
ipckit_deadline_ms(const struct timespec *deadline)
{
    struct timespec now;
    long long ms;
    if (deadline == NULL)
        return -1;
    if (is_past_sentinel(deadline))
        return 0;
    (void) clock_gettime(CLOCK_MONOTONIC, &now);
    ms = ((long long) deadline->tv_sec - (long long) now.tv_sec) * 1000LL +
         ((long long) deadline->tv_nsec - (long long) now.tv_nsec + 999999LL) / 1000000LL;
    if (ms <= 0)
        return 0;
    if (ms > INT_MAX)
        return INT_MAX;
    return (int) ms;
}

int
ipckit_deadline_sleep(const struct timespec *deadline, long ms)
{
    struct timespec until;
    int left = ipckit_deadline_ms(deadline);
    if (left == 0)
        return -ETIMEDOUT;
    if (left > 0 && left < ms)
        ms = left;
    (void) clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
        ;
    return ipckit_deadline_passed(deadline) ? -ETIMEDOUT : 0;
}

int
ipckit_deadline_error(const struct timespec *deadline)
{
    return (deadline != NULL && is_past_sentinel(deadline)) ? -EAGAIN : -ETIMEDOUT;
}

int
ipckit_deadline_poll(int fd, short events, const struct timespec *deadline, short *revents)
{
    struct pollfd p = { .fd = fd, .events = events };
    for (;;) {
        int r = poll(&p, 1, ipckit_deadline_ms(deadline));
        if (r > 0) {
            if (revents != NULL)
                *revents = p.revents;
            return 0;
        }
        if (r == 0)
            return ipckit_deadline_error(deadline);
        if (errno != EINTR)
            return -errno;
    }
}

int
ipckit_waker_open(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

int
ipckit_waker_wake(int waker)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(waker, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    /* EAGAIN: the counter is full, so it is woken already */
    return n == (ssize_t) sizeof one || errno == EAGAIN ? 0 : -errno;
}

int
ipckit_deadline_poll_wake(int fd, short events, int waker, const struct timespec *deadline,
                          short *revents)
{
    struct pollfd p[2] = { { .fd = fd, .events = events }, { .fd = waker, .events = POLLIN } };
    if (waker < 0)
        return ipckit_deadline_poll(fd, events, deadline, revents);
    for (;;) {
        int r = poll(p, 2, ipckit_deadline_ms(deadline));
        /* what the caller waits for wins: the wake-up stays for the next
         * wait, so that a call that need not wait is not interrupted */
        if (r > 0 && p[0].revents == 0 && (p[1].revents & POLLIN)) {
            uint64_t n;
            while (read(waker, &n, sizeof n) < 0 && errno == EINTR)
                ;
            return -EINTR;
        }
        if (r > 0) {
            if (revents != NULL)
                *revents = p[0].revents;
            return 0;
        }
        if (r == 0)
            return ipckit_deadline_error(deadline);
        if (errno != EINTR)
            return -errno;
    }
}

bool
ipckit_deadline_try_once(const struct timespec *deadline)
{
    return deadline != NULL && is_past_sentinel(deadline);
}

int
ipckit_backoff_wait(ipckit_backoff *b, const struct timespec *deadline, int waker)
{
    struct timespec until;
    if (ipckit_deadline_passed(deadline))
        return ipckit_deadline_error(deadline);
    if (b->yields > 0 && waker < 0) {
        b->yields--;
        (void) sched_yield();
        return 0;
    }
    (void) clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += b->us / 1000000;
    until.tv_nsec += (b->us % 1000000) * 1000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (deadline != NULL && (deadline->tv_sec < until.tv_sec ||
                             (deadline->tv_sec == until.tv_sec && deadline->tv_nsec < until.tv_nsec)))
        until = *deadline;
    if (b->us < b->max_us)
        b->us = b->us * 2 > b->max_us ? b->max_us : b->us * 2;
    if (waker >= 0)
        return ipckit_deadline_poll_wake(-1, 0, waker, &until, NULL) == -EINTR ? -EINTR : 0;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
        ;
    return 0;
}

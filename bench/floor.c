/* The floor for process tasks: start N `/bin/true` processes with posix_spawn, J at a time,
 * and wait for each. It ignores any dependency graph, so it is the limit that any engine
 * starting one process per task can approach on this machine.
 *
 *   cc -O2 -o floor bench/floor.c && ./floor 1000 2     # N J (defaults: 1000 2)
 *
 * With a third argument `capture`, each process is started and watched the way a tool that
 * keeps every task's output must at least do it (engine, ninja): stdin from /dev/null, stdout
 * and stderr into two pipes, a process group of its own, its exit seen through a pidfd, all
 * of them in one epoll set; a process is done once both pipes reached their end and it was
 * reaped (after a SIGKILL to whatever is left of its group). That is the floor of capturing
 * output, which make (whose tasks write straight to its own stdout) does not pay.
 *
 *   ./floor 1000 2 capture
 *
 * Exits 1 if a spawn or a wait fails or any child does not exit 0. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char *args[] = {"/bin/true", NULL};

static int plain(long n, long j) {
    long started = 0, running = 0;
    while (started < n || running > 0) {
        while (running < j && started < n) {
            pid_t pid;
            int err = posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ);
            if (err != 0) {
                fprintf(stderr, "posix_spawn /bin/true: error %d\n", err);
                return 1;
            }
            started++;
            running++;
        }
        int status;
        if (wait(&status) < 0) {
            perror("wait");
            return 1;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "/bin/true did not exit 0 (wait status %d)\n", status);
            return 1;
        }
        running--;
    }
    return 0;
}

/* One watched process: its pid, its two pipes' read ends and its pidfd (-1 once done), and
 * which process of its slot it is. An epoll event carries that number: a descriptor closed
 * while a just-spawned child has not yet closed its copies on exec stays in the epoll set a
 * little longer, and its late event must not be taken for the slot's next process. */
struct watch {
    pid_t pid;
    int fds[3];
    uint64_t generation;
};

static int done(const struct watch *w) { return w->fds[0] < 0 && w->fds[1] < 0 && w->fds[2] < 0; }

static int capture(long n, long j) {
    int dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    struct watch *watches = calloc((size_t)j, sizeof *watches);
    posix_spawnattr_t attr;
    if (dev_null < 0 || epoll < 0 || watches == NULL || posix_spawnattr_init(&attr) != 0 ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP) != 0 ||
        posix_spawnattr_setpgroup(&attr, 0) != 0) {
        perror("setting up");
        return 1;
    }
    for (long i = 0; i < j; i++) watches[i].fds[0] = watches[i].fds[1] = watches[i].fds[2] = -1;
    long started = 0, running = 0;
    char buffer[65536];
    while (started < n || running > 0) {
        for (long slot = 0; slot < j && started < n; slot++) {
            struct watch *w = &watches[slot];
            if (w->pid != 0 || !done(w)) continue;
            int out[2], err[2];
            if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
                perror("pipe2");
                return 1;
            }
            posix_spawn_file_actions_t actions;
            posix_spawn_file_actions_init(&actions);
            posix_spawn_file_actions_adddup2(&actions, dev_null, 0);
            posix_spawn_file_actions_adddup2(&actions, out[1], 1);
            posix_spawn_file_actions_adddup2(&actions, err[1], 2);
            int failed = posix_spawn(&w->pid, "/bin/true", &actions, &attr, args, environ);
            posix_spawn_file_actions_destroy(&actions);
            close(out[1]);
            close(err[1]);
            if (failed != 0) {
                fprintf(stderr, "posix_spawn /bin/true: error %d\n", failed);
                return 1;
            }
            w->generation++;
            w->fds[0] = out[0];
            w->fds[1] = err[0];
            w->fds[2] = (int)syscall(SYS_pidfd_open, w->pid, 0);
            for (int k = 0; k < 3; k++) {
                struct epoll_event event = {
                    .events = EPOLLIN,
                    .data.u64 = w->generation << 32 | (uint64_t)slot << 2 | (uint64_t)k};
                if (w->fds[k] < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, w->fds[k], &event) != 0) {
                    perror("pidfd_open or epoll_ctl");
                    return 1;
                }
            }
            started++;
            running++;
        }
        struct epoll_event events[64];
        int ready = epoll_wait(epoll, events, 64, -1);
        if (ready < 0) {
            perror("epoll_wait");
            return 1;
        }
        for (int e = 0; e < ready; e++) {
            uint64_t data = events[e].data.u64;
            struct watch *w = &watches[(data & 0xffffffff) >> 2];
            int k = (int)(data & 3);
            if (data >> 32 != w->generation || w->fds[k] < 0) continue;
            if (k < 2) {
                if (read(w->fds[k], buffer, sizeof buffer) > 0) continue;
            } else {
                int status;
                kill(-w->pid, SIGKILL);
                if (waitpid(w->pid, &status, 0) < 0 || !WIFEXITED(status) ||
                    WEXITSTATUS(status) != 0) {
                    fprintf(stderr, "/bin/true did not exit 0\n");
                    return 1;
                }
            }
            /* Closing a descriptor takes it out of the epoll set. */
            close(w->fds[k]);
            w->fds[k] = -1;
            if (done(w)) {
                w->pid = 0;
                running--;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000, j = argc > 2 ? atol(argv[2]) : 2;
    int captured = argc > 3 && strcmp(argv[3], "capture") == 0;
    if (n < 0 || j < 1 || (argc > 3 && !captured)) {
        fprintf(stderr, "usage: floor [N >= 0] [J >= 1] [capture]\n");
        return 2;
    }
    return captured ? capture(n, j) : plain(n, j);
}

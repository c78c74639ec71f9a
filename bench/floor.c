/* The floor for process tasks: start N `/bin/true` processes with posix_spawn, J at a time,
 * and wait for each. It ignores any dependency graph, so it is the limit that any engine
 * starting one process per task can approach on this machine.
 *
 *   cc -O2 -o floor bench/floor.c && ./floor 1000 2     # N J (defaults: 1000 2)
 *
 * Exits 1 if a spawn or a wait fails or any child does not exit 0. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000, j = argc > 2 ? atol(argv[2]) : 2;
    char *args[] = {"/bin/true", NULL};
    long started = 0, running = 0;
    if (n < 0 || j < 1) {
        fprintf(stderr, "usage: floor [N >= 0] [J >= 1]\n");
        return 2;
    }
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

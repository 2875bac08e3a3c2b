/*
 * pause: the infrastructure process of a CRI pod sandbox in the CRI tier (tests/tests/cri.rs),
 * built here so that the tier needs no image from the internet. It holds the pod's namespaces
 * open, reaps the zombies of a shared PID namespace and exits 0 on SIGINT or SIGTERM.
 * Static, no dependencies beyond libc.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

int main(void)
{
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        perror("pause: sigprocmask");
        return 1;
    }
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGCHLD) {
            while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
            continue;
        }
        return 0;
    }
}

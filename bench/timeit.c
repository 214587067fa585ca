/*
 * timeit: run a command and write its whole-process figures, as the OS
 * reports them to wait4(2), the way `/usr/bin/time -f '%e %U %S %M'`
 * does but to the microsecond (time(1) prints hundredths, too coarse for
 * runs of a few milliseconds):
 *
 *	wall_s user_s sys_s maxrss_kb
 *
 * usage: timeit -o file command [arg ...]
 *
 * The figures, one line, go to file; the command keeps our standard
 * input, output and error.  The exit status is the command's, 128 +
 * the signal if a signal ended it, 127 if it could not be run.  The
 * user and system times and the peak RSS include the command's
 * descendants that it waited for (a shell pipeline), as with time(1).
 * Built by bench/bench.sh into its temporary directory.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
tv_s(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

int
main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	FILE *f;
	pid_t pid;
	int st;

	if (argc < 4 || strcmp(argv[1], "-o") != 0) {
		fprintf(stderr, "usage: timeit -o file command [arg ...]\n");
		return 2;
	}
	if ((f = fopen(argv[2], "w")) == NULL)
		err(2, "cannot open '%s'", argv[2]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) == -1)
		err(2, "fork");
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		warn("cannot run '%s'", argv[3]);
		_exit(127);
	}
	while (wait4(pid, &st, 0, &ru) == -1)
		if (errno != EINTR)
			err(2, "wait4");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(f, "%.6f %.6f %.6f %ld\n", (t1.tv_sec - t0.tv_sec) +
	    (t1.tv_nsec - t0.tv_nsec) / 1e9, tv_s(ru.ru_utime),
	    tv_s(ru.ru_stime), ru.ru_maxrss);
	if (fclose(f) == EOF)
		err(2, "cannot write '%s'", argv[2]);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

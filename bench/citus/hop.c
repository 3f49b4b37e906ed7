/*
 * hop.c: what this machine charges for what every hop of a relay through a
 * Citus coordinator is made of: system calls, and waking the process at the
 * other end of a Unix socket. bench/citus/run.sh prints it beside its
 * figures. On a virtual machine whose hypervisor traps system calls and
 * interrupts these cost several times what they cost on bare metal, and a
 * waiting process whose CPU went idle costs most to wake: a relay's
 * processes wait for each other through every call.
 * Usage: hop
 * Prints syscall_ns=<getppid> wake_us=<CPU of a write that wakes a process
 * that waited briefly> wake_idle_us=<the same after it waited 300 us>.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
seconds(clockid_t clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/*
 * Ping-pong over a socket pair: the child reads, works <work_us>, then
 * answers; returns the CPU microseconds of the child's answering write, the
 * wake-up of the parent waiting in read().
 */
static double
wake_cost(int work_us)
{
	const int	trips = 4000;
	int			sv[2],
				pipefd[2];
	char		buf[64] = {0};
	double		cost = -1;
	pid_t		child;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || pipe(pipefd) != 0)
	{
		perror("hop: socketpair or pipe");
		exit(1);
	}
	child = fork();
	if (child < 0)
	{
		perror("hop: fork");
		exit(1);
	}
	if (child == 0)
	{
		double		spent = 0;

		for (int i = 0; i < trips; i++)
		{
			double		t0,
						c0;

			if (read(sv[1], buf, sizeof(buf)) != sizeof(buf))
				_exit(1);
			t0 = seconds(CLOCK_MONOTONIC);
			while (seconds(CLOCK_MONOTONIC) - t0 < work_us * 1e-6)
				;
			c0 = seconds(CLOCK_THREAD_CPUTIME_ID);
			if (write(sv[1], buf, sizeof(buf)) != sizeof(buf))
				_exit(1);
			spent += seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
		}
		if (write(pipefd[1], &spent, sizeof(spent)) != sizeof(spent))
			_exit(1);
		_exit(0);
	}
	for (int i = 0; i < trips; i++)
		if (write(sv[0], buf, sizeof(buf)) != sizeof(buf) || read(sv[0], buf, sizeof(buf)) != sizeof(buf))
		{
			fprintf(stderr, "hop: the round trip failed\n");
			exit(1);
		}
	if (read(pipefd[0], &cost, sizeof(cost)) != sizeof(cost))
	{
		fprintf(stderr, "hop: no figure from the child\n");
		exit(1);
	}
	waitpid(child, NULL, 0);
	close(sv[0]);
	close(sv[1]);
	close(pipefd[0]);
	close(pipefd[1]);
	return cost / trips * 1e6;
}

int
main(void)
{
	const int	calls = 1000000;
	double		t0,
				syscall_s;

	t0 = seconds(CLOCK_MONOTONIC);
	for (int i = 0; i < calls; i++)
		(void) syscall(SYS_getppid);
	syscall_s = seconds(CLOCK_MONOTONIC) - t0;
	printf("syscall_ns=%.0f wake_us=%.1f wake_idle_us=%.1f\n",
		   syscall_s / calls * 1e9, wake_cost(0), wake_cost(300));
	return 0;
}

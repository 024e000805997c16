// SPDX-License-Identifier: GPL-2.0
/*
 * gupcheck-runner: runs a validation plan inside the QEMU guest, as PID 1 (the initramfs's
 * /init mounts the pseudo file systems and execs it), then powers the guest off.
 *
 * Plan lines (fields separated by single spaces, no field contains a space):
 *   load CASE MODULE_PATH          load a kernel module
 *   unload CASE MODULE_NAME        unload it (after a result that may have oopsed)
 *   run CASE RESULT TIMEOUT PROGRAM [ARG...]
 *
 * Console protocol (each line starts with @@GUPCHECK so it can be found among kernel messages):
 *   READY RELEASE | LOAD CASE MODULE OK|FAIL ERROR | UNLOAD CASE MODULE OK|FAIL ERROR
 *   BEGIN CASE RESULT | END CASE RESULT EXIT n|SIGNAL n|TIMEOUT | KMSG CASE RESULT LINE | DONE
 * The program's own output (its RESULT lines) comes between BEGIN and END; the kernel log of
 * each step follows it as KMSG lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/klog.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#define MARK "@@GUPCHECK"
#define KILL_GRACE_MS 2000

static char klog[1 << 20];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(MARK " ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

/*
 * Prints and clears the kernel log collected since the last call: the messages of level
 * warning or worse (oopses, BUGs, WARNs and their traces; not the chatter of a boot).
 */
static void drain_kernel_log(const char *case_id, const char *result)
{
	int n = klogctl(4 /* SYSLOG_ACTION_READ_CLEAR */, klog, sizeof(klog) - 1);
	char *line, *save = NULL;

	if (n <= 0)
		return;
	klog[n] = '\0';
	for (line = strtok_r(klog, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '<' && line[1] >= '5' && line[1] <= '7' && line[2] == '>')
			continue;
		say("KMSG %s %s %s", case_id, result, line);
	}
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits for pid until deadline_ms; reaps any other child (PID 1 inherits orphans). */
static int wait_until(pid_t pid, long deadline_ms, int *status)
{
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		struct timespec wait;
		long left;
		pid_t got;
		int st;

		while ((got = waitpid(-1, &st, WNOHANG)) > 0) {
			if (got == pid) {
				*status = st;
				return 1;
			}
		}
		left = deadline_ms - now_ms();
		if (left <= 0)
			return 0;
		wait.tv_sec = left / 1000;
		wait.tv_nsec = (left % 1000) * 1000000L;
		sigtimedwait(&chld, NULL, &wait);
	}
}

static void run(char *case_id, char *result, int timeout_s, char **argv)
{
	int status = 0;
	pid_t pid;

	say("BEGIN %s %s", case_id, result);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);

		setpgid(0, 0);
		if (null >= 0)
			dup2(null, 0);
		execv(argv[0], argv);
		printf("gupcheck-runner: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (pid < 0) {
		say("END %s %s EXIT 126", case_id, result);
		return;
	}
	setpgid(pid, pid);
	if (wait_until(pid, now_ms() + timeout_s * 1000L, &status)) {
		if (WIFSIGNALED(status))
			say("END %s %s SIGNAL %d", case_id, result, WTERMSIG(status));
		else
			say("END %s %s EXIT %d", case_id, result, WEXITSTATUS(status));
	} else {
		kill(-pid, SIGKILL);
		/* A task stuck in the kernel (a lock left held by an oops) cannot be killed: move on. */
		wait_until(pid, now_ms() + KILL_GRACE_MS, &status);
		say("END %s %s TIMEOUT", case_id, result);
	}
	kill(-pid, SIGKILL);	/* children the program left behind */
	drain_kernel_log(case_id, result);
}

static void load(char *case_id, char *path)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) != 0)
		say("LOAD %s %s FAIL %s", case_id, name, strerror(errno));
	else
		say("LOAD %s %s OK", case_id, name);
	if (fd >= 0)
		close(fd);
	drain_kernel_log(case_id, "-");
}

static void unload(char *case_id, char *name)
{
	if (syscall(SYS_delete_module, name, O_NONBLOCK) != 0)
		say("UNLOAD %s %s FAIL %s", case_id, name, strerror(errno));
	else
		say("UNLOAD %s %s OK", case_id, name);
	drain_kernel_log(case_id, "-");
}

static int split(char *line, char **fields, int max)
{
	int n = 0;
	char *save = NULL, *field;

	for (field = strtok_r(line, " \n", &save); field && n < max - 1; field = strtok_r(NULL, " \n", &save))
		fields[n++] = field;
	fields[n] = NULL;
	return n;
}

int main(int argc, char **argv)
{
	static char line[4096];
	struct utsname uts;
	char *fields[64];
	sigset_t chld;
	FILE *plan;

	/* SIGCHLD stays pending until wait_until() takes it with sigtimedwait(). */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	uname(&uts);
	say("READY %s", uts.release);
	drain_kernel_log("-", "boot");
	plan = argc > 1 ? fopen(argv[1], "r") : NULL;
	if (!plan)
		say("PLAN-ERROR %s", argc > 1 ? strerror(errno) : "no plan given");
	while (plan && fgets(line, sizeof(line), plan)) {
		int n = split(line, fields, 64);

		if (n == 3 && !strcmp(fields[0], "load"))
			load(fields[1], fields[2]);
		else if (n == 3 && !strcmp(fields[0], "unload"))
			unload(fields[1], fields[2]);
		else if (n >= 5 && !strcmp(fields[0], "run"))
			run(fields[1], fields[2], atoi(fields[3]), &fields[4]);
		else if (n > 0)
			say("PLAN-ERROR bad line: %s", fields[0]);
	}
	say("DONE");
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gupcheck_repro.h: what the repro programs of `gupcheck validate` share.
 *
 * A repro program holds one scenario per result name. `prog NAME` runs scenario NAME, which
 * prints exactly one line `RESULT NAME BUG|OK|ERROR evidence` (with bug(), ok() or
 * setup_error()) and returns 0:
 *
 *	static int leak_on_partial_chunk(void)
 *	{
 *		...
 *		if (held > 0)
 *			return bug("%ld FOLL_PIN pins still held after close", held);
 *		return ok("no pin left after close");
 *	}
 *
 *	REPRO_SCENARIOS(
 *		{ "leak-on-partial-chunk", leak_on_partial_chunk },
 *	)
 *
 * The oracles below observe the kernel: FOLL_PIN pins still held (/proc/vmstat), the page
 * frame behind an address and the device's view of a frame a driver keeps (gupprobe), the
 * kernel log, a kernel buffer to aim unchecked copies at, injected kmalloc failures and
 * values changed between two fetches.
 */
#ifndef GUPCHECK_REPRO_H
#define GUPCHECK_REPRO_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "gupprobe_uapi.h"

#define REPRO_PAGE	4096UL

struct repro_scenario {
	const char *name;
	int (*run)(void);
};

static const char *repro_current = "?";

static int repro_report(const char *verdict, const char *fmt, va_list ap)
{
	char evidence[600];
	char *c;

	vsnprintf(evidence, sizeof(evidence), fmt, ap);
	for (c = evidence; *c; c++) {
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	}
	printf("RESULT %s %s %s\n", repro_current, verdict, evidence);
	fflush(stdout);
	return 0;
}

/* The bug showed; `fmt` says what was observed. */
static __attribute__((format(printf, 1, 2), unused)) int bug(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = repro_report("BUG", fmt, ap);
	va_end(ap);
	return ret;
}

/* The scenario ran and the bug did not show. */
static __attribute__((format(printf, 1, 2), unused)) int ok(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = repro_report("OK", fmt, ap);
	va_end(ap);
	return ret;
}

/* The scenario could not be set up: no verdict either way. */
static __attribute__((format(printf, 1, 2), unused)) int setup_error(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = repro_report("ERROR", fmt, ap);
	va_end(ap);
	return ret;
}

static int repro_main(int argc, char **argv, const struct repro_scenario *scenarios, size_t count)
{
	/* No malloc() to print the result: a device may have written over the heap's metadata. */
	static char out[4096];
	size_t i;

	setvbuf(stdout, out, _IOLBF, sizeof(out));
	for (i = 0; argc == 2 && i < count; i++) {
		if (!strcmp(argv[1], scenarios[i].name)) {
			repro_current = scenarios[i].name;
			return scenarios[i].run();
		}
	}
	fprintf(stderr, "usage: %s SCENARIO; scenarios:", argv[0]);
	for (i = 0; i < count; i++)
		fprintf(stderr, " %s", scenarios[i].name);
	fputc('\n', stderr);
	return 2;
}

#define REPRO_SCENARIOS(...)								\
	int main(int argc, char **argv)							\
	{										\
		static const struct repro_scenario scenarios[] = { __VA_ARGS__ };	\
		return repro_main(argc, argv, scenarios,				\
				  sizeof(scenarios) / sizeof(scenarios[0]));		\
	}

/* ---- memory ---------------------------------------------------------------------------- */

/* Page-aligned anonymous memory, every page written (no shared zero page), no huge pages. */
static __attribute__((unused)) void *map_buffer(size_t bytes)
{
	uint8_t *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		return NULL;
	madvise(buf, bytes, MADV_NOHUGEPAGE);
	memset(buf, 0, bytes);
	return buf;
}

/* An address nothing is mapped at. */
static __attribute__((unused)) void *unmapped_address(void)
{
	void *hole = mmap(NULL, REPRO_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (hole == MAP_FAILED)
		return NULL;
	munmap(hole, REPRO_PAGE);
	return hole;
}

/* ---- FOLL_PIN pins: /proc/vmstat --------------------------------------------------------- */

/*
 * nr_foll_pin_acquired - nr_foll_pin_released, or LONG_MIN if unavailable. The counters are
 * per CPU and folded into /proc/vmstat about once a second: stat_refresh folds them now.
 */
static __attribute__((unused)) long pins_held(void)
{
	long acquired = -1, released = -1, value;
	int refresh = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	char name[64];
	FILE *vmstat;

	if (refresh >= 0) {
		if (write(refresh, "1", 1) < 0)
			perror("stat_refresh");
		close(refresh);
	}
	vmstat = fopen("/proc/vmstat", "r");

	if (!vmstat)
		return LONG_MIN;
	while (fscanf(vmstat, "%63s %ld", name, &value) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acquired = value;
		else if (!strcmp(name, "nr_foll_pin_released"))
			released = value;
	}
	fclose(vmstat);
	return acquired < 0 || released < 0 ? LONG_MIN : acquired - released;
}

/* ---- gupprobe ------------------------------------------------------------------------------ */

static int probe_fd = -1;

static int probe_ioctl(unsigned long request, void *arg)
{
	if (probe_fd < 0)
		probe_fd = open(GUPPROBE_DEVICE, O_RDWR | O_CLOEXEC);
	if (probe_fd < 0)
		return -1;
	return ioctl(probe_fd, request, arg);
}

/* The page frame that backs addr now, with its counts. */
static __attribute__((unused)) int page_info(const volatile void *addr, struct gupprobe_page *info)
{
	memset(info, 0, sizeof(*info));
	info->addr = (uintptr_t)addr;
	return probe_ioctl(GUPPROBE_PAGE_INFO, info);
}

static __attribute__((unused)) int pfn_info(uint64_t pfn, struct gupprobe_page *info)
{
	memset(info, 0, sizeof(*info));
	info->pfn = pfn;
	return probe_ioctl(GUPPROBE_PFN_INFO, info);
}

/* The device's view: 8 bytes at offset in page frame pfn. */
static __attribute__((unused)) int pfn_read64(uint64_t pfn, unsigned int offset, uint64_t *value)
{
	struct gupprobe_pfn_io io = { .pfn = pfn, .offset = offset };

	if (probe_ioctl(GUPPROBE_PFN_READ, &io))
		return -1;
	*value = io.value;
	return 0;
}

/* Plays the device: writes len bytes of `byte` at offset in page frame pfn. */
static __attribute__((unused)) int pfn_fill(uint64_t pfn, unsigned int offset, unsigned int len, uint8_t byte)
{
	struct gupprobe_pfn_io io = { .pfn = pfn, .offset = offset, .len = len, .value = byte };

	return probe_ioctl(GUPPROBE_PFN_FILL, &io);
}

/* A kernel address (the probe's buffer, refilled with GUPPROBE_KBUF_PATTERN); 0 on error. */
static __attribute__((unused)) uint64_t kernel_target(void)
{
	struct gupprobe_kbuf kbuf;

	if (probe_ioctl(GUPPROBE_KBUF_RESET, NULL) || probe_ioctl(GUPPROBE_KBUF, &kbuf))
		return 0;
	return kbuf.addr;
}

/* Bytes of the kernel target that were overwritten since kernel_target(); -1 on error. */
static __attribute__((unused)) int kernel_target_changed(void)
{
	struct gupprobe_kbuf kbuf;

	if (probe_ioctl(GUPPROBE_KBUF, &kbuf))
		return -1;
	return (int)kbuf.changed;
}

/* The calling process's next kmalloc() of at least min_size bytes fails. */
static __attribute__((unused)) int fail_next_kmalloc(uint64_t min_size)
{
	return probe_ioctl(GUPPROBE_FAIL_KMALLOC, &min_size);
}

/*
 * Plays a racing thread that wins: `value` is stored at addr right before the calling
 * process's nth copy_from_user(). Nothing between this call and the syscall under test may
 * copy from user space (no printf to the console in between).
 */
static __attribute__((unused)) int change_before_copy(volatile void *addr, uint32_t value, unsigned int nth)
{
	struct gupprobe_refetch req = { .addr = (uintptr_t)addr, .value = value, .nth = nth };

	return probe_ioctl(GUPPROBE_REFETCH, &req);
}

static __attribute__((unused)) int injection_status(struct gupprobe_status *status)
{
	memset(status, 0, sizeof(*status));
	return probe_ioctl(GUPPROBE_STATUS, status);
}

/* ---- fork --------------------------------------------------------------------------------- */

/* A child that keeps the parent's memory mapped (and touches nothing) until end_child(). */
static __attribute__((unused)) pid_t fork_idle_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static __attribute__((unused)) void end_child(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/*
 * The fork oracle for a buffer whose page a driver keeps: record the frame the driver pinned
 * (the one mapped at addr right after the registration), fork, write `value` from the parent,
 * and compare the process's view with the device's view of the kept frame. Returns 1 when
 * they diverge, 0 when they agree, -1 when the scenario could not be set up; `what` gets the
 * evidence either way.
 */
static __attribute__((unused)) int fork_then_write(volatile uint8_t *addr, uint8_t value, char *what, size_t size)
{
	struct gupprobe_page before, after;
	uint64_t device = 0;
	pid_t child;

	if (page_info(addr, &before)) {
		snprintf(what, size, "gupprobe: %s", strerror(errno));
		return -1;
	}
	child = fork_idle_child();
	if (child < 0) {
		snprintf(what, size, "fork: %s", strerror(errno));
		return -1;
	}
	*addr = value;
	if (page_info(addr, &after) || pfn_read64(before.pfn, (uintptr_t)addr % REPRO_PAGE, &device)) {
		snprintf(what, size, "gupprobe: %s", strerror(errno));
		end_child(child);
		return -1;
	}
	end_child(child);
	if (after.pfn != before.pfn && (uint8_t)device != value) {
		snprintf(what, size, "after fork() and a write by the parent, the process maps pfn %#llx "
			 "while the driver keeps pfn %#llx: the device reads %#x where the process wrote %#x",
			 (unsigned long long)after.pfn, (unsigned long long)before.pfn,
			 (uint8_t)device, value);
		return 1;
	}
	snprintf(what, size, "after fork() and a write by the parent the process still maps the "
		 "kept pfn %#llx and the device reads what it wrote (%#x)",
		 (unsigned long long)before.pfn, (uint8_t)device);
	return 0;
}

/*
 * The fork oracle around one registration: `request` (spelled `name`) on `device` with `arg`, which
 * hands the driver the page of `buf`; then fork_then_write(). BUG when the views diverge, OK when
 * they agree, a setup error when the scenario could not be set up.
 */
static __attribute__((unused)) int request_then_fork(const char *device, unsigned long request,
						      const char *name, void *arg, volatile uint8_t *buf)
{
	int fd = open(device, O_RDWR);
	char what[400];
	int diverged;

	if (fd < 0 || !buf)
		return setup_error("%s: %s", device, strerror(errno));
	if (ioctl(fd, request, arg))
		return setup_error("%s: %s", name, strerror(errno));
	diverged = fork_then_write(buf, 0x5a, what, sizeof(what));
	close(fd);
	if (diverged < 0)
		return setup_error("%s", what);
	return diverged ? bug("%s: %s", name, what) : ok("%s: %s", name, what);
}

/* ---- kernel log ---------------------------------------------------------------------------- */

/* Finds the last kernel log line (since the previous result) holding needle; 1 if found. */
static __attribute__((unused)) int kernel_log_find(const char *needle, char *line, size_t size)
{
	static char log[1 << 18];
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, sizeof(log) - 1);
	char *start, *end, *hit = NULL;

	if (n <= 0)
		return 0;
	log[n] = '\0';
	for (start = log; start && *start; start = end ? end + 1 : NULL) {
		end = strchr(start, '\n');
		if (end)
			*end = '\0';
		if (strstr(start, needle))
			hit = start;
	}
	if (!hit)
		return 0;
	/* without the "<level>[ seconds] " prefix, which would read as a kernel message of its own */
	if (*hit == '<' && strchr(hit, '>'))
		hit = strchr(hit, '>') + 1;
	if (*hit == '[' && strchr(hit, ']'))
		hit = strchr(hit, ']') + 1;
	while (*hit == ' ')
		hit++;
	snprintf(line, size, "%s", hit);
	return 1;
}

#endif /* GUPCHECK_REPRO_H */

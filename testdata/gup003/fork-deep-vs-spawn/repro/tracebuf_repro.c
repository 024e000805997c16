/*
 * Repro of testdata/gup003/fork-deep-vs-spawn. A malloc'd trace buffer is attached (FOLL_GET
 * references kept by the driver). A child started with fork() (it exits at once, as the
 * compressor of tracebuf_fork_app.c does) is enough: the parent's next write copies the page
 * and TB_IOC_EMIT writes its record count into the old one. Children started with system()
 * and posix_spawn() share the address space until exec and copy nothing.
 */
#include <stdio.h>
#include <spawn.h>

#include "gupcheck_repro.h"
#include "tracebuf_uapi.h"

#define TRACE_BYTES	(256 * 1024)

extern char **environ;

static int emit_after(int (*start_children)(void), const char *how)
{
	uint64_t *trace = malloc(TRACE_BYTES);
	struct tb_attach att = { .addr = (uintptr_t)trace, .len = TRACE_BYTES };
	int fd = open("/dev/tracebuf", O_RDWR);
	uint64_t seen;

	if (fd < 0 || !trace)
		return setup_error("/dev/tracebuf: %s", strerror(errno));
	memset(trace, 0, TRACE_BYTES);
	if (ioctl(fd, TB_IOC_ATTACH, &att) < 0 || ioctl(fd, TB_IOC_EMIT, 0) < 0)
		return setup_error("TB_IOC_ATTACH/EMIT: %s", strerror(errno));
	if (start_children())
		return setup_error("%s: %s", how, strerror(errno));
	trace[0] = 0;
	if (ioctl(fd, TB_IOC_EMIT, 0) < 0)
		return setup_error("TB_IOC_EMIT: %s", strerror(errno));
	seen = trace[0];
	close(fd);
	if (seen != 2)
		return bug("after %s and a write by the parent, the device's second record count (2) "
			   "went to the page the driver kept: the process reads %llu",
			   how, (unsigned long long)seen);
	return ok("after %s and a write by the parent the device's record count reached the process (%llu)",
		  how, (unsigned long long)seen);
}

static int fork_compressor(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return pid < 0 || waitpid(pid, NULL, 0) != pid ? -1 : 0;
}

static int spawn_compressor(void)
{
	char *argv[] = { "true", NULL };
	pid_t pid;

	if (system("true") != 0)
		return -1;
	if (posix_spawnp(&pid, "true", NULL, NULL, argv, environ))
		return -1;
	return waitpid(pid, NULL, 0) == pid ? 0 : -1;
}

static int attach_then_fork_loses_records(void)
{
	return emit_after(fork_compressor, "fork()");
}

static int attach_then_spawn_keeps_records(void)
{
	return emit_after(spawn_compressor, "system() and posix_spawnp()");
}

REPRO_SCENARIOS(
	{ "attach-then-fork-loses-records", attach_then_fork_loses_records },
	{ "attach-then-spawn-keeps-records", attach_then_spawn_keeps_records },
)

/*
 * GUP003 case "fork-deep-vs-spawn", second program: the same attach of a
 * malloc'd trace buffer, but child processes are only started with system()
 * and posix_spawn(), which share the address space until exec (clone with
 * CLONE_VM | CLONE_VFORK on current glibc) and copy nothing: clean.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "tracebuf_uapi.h"

#define TRACE_BYTES	(256 * 1024)

extern char **environ;

static int attach_trace_buffer(int fd, void *buf, size_t len)
{
	struct tb_attach att = { .addr = (uintptr_t)buf, .len = len };

	return ioctl(fd, TB_IOC_ATTACH, &att);
}

static int launch_compressor(void)
{
	char *argv[] = { "gzip", "--version", NULL };
	pid_t pid;
	int err;

	err = posix_spawnp(&pid, "gzip", NULL, NULL, argv, environ);
	if (err) {
		fprintf(stderr, "posix_spawnp: %s\n", strerror(err));
		return -1;
	}
	return waitpid(pid, NULL, 0) == pid ? 0 : -1;
}

static int run_pipeline(int fd)
{
	if (ioctl(fd, TB_IOC_EMIT, 0) < 0)
		perror("TB_IOC_EMIT");
	if (system("sync") != 0)
		fprintf(stderr, "sync failed\n");
	return launch_compressor();
}

int main(void)
{
	uint64_t *trace;
	int fd = open("/dev/tracebuf", O_RDWR);

	if (fd < 0) {
		perror("/dev/tracebuf");
		return 1;
	}
	trace = malloc(TRACE_BYTES);
	if (!trace)
		return 1;
	memset(trace, 0, TRACE_BYTES);
	if (attach_trace_buffer(fd, trace, TRACE_BYTES) < 0) {
		perror("TB_IOC_ATTACH");
		return 1;
	}
	run_pipeline(fd);
	trace[0] = 0;
	if (ioctl(fd, TB_IOC_EMIT, 0) < 0)
		perror("TB_IOC_EMIT");
	printf("records seen: %llu\n", (unsigned long long)trace[0]);
	close(fd);
	free(trace);
	return 0;
}

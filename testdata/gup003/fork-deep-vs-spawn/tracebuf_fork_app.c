/*
 * GUP003 case "fork-deep-vs-spawn", first program: a malloc'd trace buffer is
 * attached (FOLL_GET references kept by the driver) and, three calls deep
 * from main, the program fork()s a compressor child: flagged. The attach is
 * done in a helper with exactly one caller; the ioctl line carries the mark.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "tracebuf_uapi.h"

#define TRACE_BYTES	(256 * 1024)

static int attach_trace_buffer(int fd, void *buf, size_t len)
{
	struct tb_attach att = { .addr = (uintptr_t)buf, .len = len };

	return ioctl(fd, TB_IOC_ATTACH, &att); /* expect: GUP003 */
}

static pid_t start_child(const char *what)
{
	pid_t pid = fork();

	if (pid == 0) {
		printf("%s: child %d\n", what, (int)getpid());
		_exit(0);
	}
	return pid;
}

static int launch_compressor(void)
{
	pid_t pid = start_child("compressor");

	if (pid < 0)
		return -1;
	return waitpid(pid, NULL, 0) == pid ? 0 : -1;
}

static int run_pipeline(int fd)
{
	if (ioctl(fd, TB_IOC_EMIT, 0) < 0)
		perror("TB_IOC_EMIT");
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
	trace[0] = 0;	/* after the fork this write lands in a copy */
	if (ioctl(fd, TB_IOC_EMIT, 0) < 0)
		perror("TB_IOC_EMIT");
	printf("records seen: %llu\n", (unsigned long long)trace[0]);
	close(fd);
	free(trace);
	return 0;
}

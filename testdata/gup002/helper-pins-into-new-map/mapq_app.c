/*
 * GUP002 case "helper-pins-into-new-map", userland side. attach_scratch() hands a stack
 * array to MAPQ_IOC_ATTACH, which keeps it pinned after the call: once the function returns,
 * the device writes into whatever frame reuses that stack memory. poke_scratch() hands a
 * stack array to MAPQ_IOC_POKE_ONCE, which is done with it before returning; attach_heap()
 * attaches heap memory that lives as long as the attachment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "mapq_uapi.h"

#define SCRATCH_BYTES	8192

static int attach_scratch(int fd)
{
	char scratch[SCRATCH_BYTES] __attribute__((aligned(4096)));
	struct mapq_buf buf;

	memset(scratch, 0, sizeof(scratch));
	memset(&buf, 0, sizeof(buf));
	buf.uaddr = (uintptr_t)scratch;
	buf.bytes = sizeof(scratch);
	return ioctl(fd, MAPQ_IOC_ATTACH, &buf); /* expect: GUP002 */
}

static int poke_scratch(int fd)
{
	char scratch[4096] __attribute__((aligned(4096)));
	struct mapq_buf buf;

	memset(&buf, 0, sizeof(buf));
	buf.uaddr = (uintptr_t)scratch;
	buf.bytes = sizeof(scratch);
	buf.value = 0x5a;
	if (ioctl(fd, MAPQ_IOC_POKE_ONCE, &buf) < 0)
		return -1;
	return scratch[0] == 0x5a ? 0 : -1;
}

static int attach_heap(int fd, void **out)
{
	struct mapq_buf buf;
	void *mem = NULL;

	if (posix_memalign(&mem, 4096, SCRATCH_BYTES))
		return -1;
	memset(&buf, 0, sizeof(buf));
	buf.uaddr = (uintptr_t)mem;
	buf.bytes = SCRATCH_BYTES;
	*out = mem;
	return ioctl(fd, MAPQ_IOC_ATTACH, &buf);
}

int main(void)
{
	void *heap = NULL;
	int fd = open("/dev/mapq", O_RDWR);

	if (fd < 0) {
		perror("/dev/mapq");
		return 1;
	}
	if (attach_scratch(fd) < 0 || poke_scratch(fd) < 0 || attach_heap(fd, &heap) < 0)
		perror("mapq");
	ioctl(fd, MAPQ_IOC_TICK, 0);
	ioctl(fd, MAPQ_IOC_DETACH_ALL, 0);
	close(fd);
	free(heap);
	return 0;
}

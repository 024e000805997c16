/*
 * GUP002 case "stack-array-via-field", userland side: the buffer reaches the
 * driver through the `addr` field of struct rr_region. A stack array in that
 * field is flagged on RR_IOC_REGISTER (kept pinned after the ioctl), whether
 * set in a designated initialiser or through a local pointer. Clean
 * look-alikes: a heap buffer registered (no fork in this program), and a stack
 * array given to RR_IOC_FILL_ONCE (pinned only during the call).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "ringreg_uapi.h"

#define RING_BYTES	8192

static void unregister_ring(int fd)
{
	if (ioctl(fd, RR_IOC_UNREGISTER, 0) < 0)
		perror("RR_IOC_UNREGISTER");
}

/* Positive: stack array in a designated initialiser. */
static int register_stack_ring(int fd)
{
	char ring[RING_BYTES];
	struct rr_region r = { .addr = (uintptr_t)ring, .len = sizeof(ring) };

	if (ioctl(fd, RR_IOC_REGISTER, &r) < 0) { /* expect: GUP002 */
		perror("RR_IOC_REGISTER");
		return -1;
	}
	if (ioctl(fd, RR_IOC_KICK, 0) < 0)
		perror("RR_IOC_KICK");
	printf("stack ring: first byte %d\n", ring[0]);
	return 0;
}

/* Positive: stack array through a local pointer, field assigned. */
static int register_stack_ring_via_cursor(int fd)
{
	char scratch[RING_BYTES];
	char *cursor = scratch;
	struct rr_region r;

	memset(&r, 0, sizeof(r));
	r.addr = (uint64_t)(uintptr_t)cursor;
	r.len = sizeof(scratch);
	if (ioctl(fd, RR_IOC_REGISTER, &r) < 0) { /* expect: GUP002 */
		perror("RR_IOC_REGISTER");
		return -1;
	}
	printf("scratch ring registered\n");
	return 0;
}

/* Negative: heap buffer, and this program never forks. */
static int register_heap_ring(int fd)
{
	char *ring = malloc(RING_BYTES);
	struct rr_region h;

	if (!ring)
		return -1;
	memset(&h, 0, sizeof(h));
	h.addr = (uint64_t)(uintptr_t)ring;
	h.len = RING_BYTES;
	if (ioctl(fd, RR_IOC_REGISTER, &h) < 0) {
		perror("RR_IOC_REGISTER");
		free(ring);
		return -1;
	}
	if (ioctl(fd, RR_IOC_KICK, 0) < 0)
		perror("RR_IOC_KICK");
	printf("heap ring: first byte %d\n", ring[0]);
	unregister_ring(fd);
	free(ring);
	return 0;
}

/* Negative: stack array in the field, but FILL_ONCE unpins before returning. */
static int fill_stack_once(int fd)
{
	char tmp[256];
	struct rr_region f = { .addr = (uintptr_t)tmp, .len = sizeof(tmp), .fill = 0x5a };

	if (ioctl(fd, RR_IOC_FILL_ONCE, &f) < 0) {
		perror("RR_IOC_FILL_ONCE");
		return -1;
	}
	printf("filled: %#x\n", (unsigned char)tmp[0]);
	return 0;
}

int main(void)
{
	int fd = open("/dev/ringreg", O_RDWR);

	if (fd < 0) {
		perror("/dev/ringreg");
		return 1;
	}
	fill_stack_once(fd);
	register_heap_ring(fd);
	if (register_stack_ring(fd) == 0)
		unregister_ring(fd);
	if (register_stack_ring_via_cursor(fd) == 0)
		unregister_ring(fd);
	close(fd);
	return 0;
}

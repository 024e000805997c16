/*
 * GUP003 case "library-no-main", userland side: a library (no main) that
 * attaches a heap receive ring to the driver, which keeps FOLL_GET
 * references. Nothing here forks, but the library cannot know whether the
 * program linking it does: the ring without MADV_DONTFORK is flagged (at a
 * lower level); the variant that applies MADV_DONTFORK first is clean.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "nicq_uapi.h"

#define NICQ_PAGE	4096

/* Flagged: heap ring registered without MADV_DONTFORK. */
void *nicq_rx_attach(int fd, size_t len)
{
	struct nicq_rx_ring ring;
	void *buf = aligned_alloc(NICQ_PAGE, len);

	if (!buf)
		return NULL;
	memset(&ring, 0, sizeof(ring));
	ring.addr = (uint64_t)(uintptr_t)buf;
	ring.len = len;
	if (ioctl(fd, NICQ_IOC_RX_ATTACH, &ring) < 0) { /* expect: GUP003 */
		free(buf);
		return NULL;
	}
	return buf;
}

/* Clean: the ring is kept out of any child before it is registered. */
void *nicq_rx_attach_dontfork(int fd, size_t len)
{
	struct nicq_rx_ring ring;
	void *buf = aligned_alloc(NICQ_PAGE, len);

	if (!buf)
		return NULL;
	if (madvise(buf, len, MADV_DONTFORK) < 0) {
		free(buf);
		return NULL;
	}
	memset(&ring, 0, sizeof(ring));
	ring.addr = (uint64_t)(uintptr_t)buf;
	ring.len = len;
	if (ioctl(fd, NICQ_IOC_RX_ATTACH, &ring) < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int nicq_rx_detach(int fd, void *buf)
{
	int ret = ioctl(fd, NICQ_IOC_RX_DETACH, 0);

	free(buf);
	return ret;
}

/*
 * Repro of testdata/gup001/ioctl-command-table: SMP_IOC_ATTACH (reached only through the
 * driver's command table) keeps FOLL_GET references on the ring. After fork() the parent's
 * write to page 0 gives it a copy, and SMP_IOC_STROBE fills the pages the driver kept: the
 * parent's page 0 misses the fill that page 1 (never written by the parent) shows.
 * SMP_IOC_PEEK takes its references after the fork, so its block lands where the process sees it.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define RING_BYTES		(4 * REPRO_PAGE)
#define SMP_IOC_ATTACH		_IOW(0xb7, 0x10, uint64_t)
#define SMP_IOC_STROBE		_IO(0xb7, 0x11)
#define SMP_IOC_PEEK		_IOW(0xb7, 0x12, uint64_t)

static int attached_ring_diverges_after_fork(void)
{
	uint8_t *ring = map_buffer(RING_BYTES);
	uint64_t base = (uintptr_t)ring;
	int fd = open("/dev/sampler", O_RDWR);
	uint8_t first, second;
	pid_t child;

	if (fd < 0 || !ring)
		return setup_error("/dev/sampler: %s", strerror(errno));
	if (ioctl(fd, SMP_IOC_ATTACH, &base))
		return setup_error("SMP_IOC_ATTACH: %s", strerror(errno));
	child = fork_idle_child();
	ring[0] = 0x5a;
	if (ioctl(fd, SMP_IOC_STROBE))
		return setup_error("SMP_IOC_STROBE: %s", strerror(errno));
	first = ring[0];
	second = ring[REPRO_PAGE];
	end_child(child);
	close(fd);
	if (first != (uint8_t)(second - 1))
		return bug("SMP_IOC_STROBE filled the attached pages (page 1 reads %#x) but after fork() "
			   "and a parent write the process's page 0 keeps %#x, not %#x: the driver still "
			   "holds the page the parent gave up", second, first, (uint8_t)(second - 1));
	return ok("after fork() and a parent write the strobe reached the process (page 0 %#x, page 1 %#x)",
		  first, second);
}

static int peek_reaches_the_process_after_fork(void)
{
	uint8_t *ring = map_buffer(RING_BYTES);
	uint64_t base = (uintptr_t)ring;
	int fd = open("/dev/sampler", O_RDWR);
	uint8_t first, second;
	pid_t child;

	if (fd < 0 || !ring)
		return setup_error("/dev/sampler: %s", strerror(errno));
	child = fork_idle_child();
	ring[0] = 0x5a;
	if (ioctl(fd, SMP_IOC_PEEK, &base))
		return setup_error("SMP_IOC_PEEK: %s", strerror(errno));
	first = ring[0];
	second = ring[REPRO_PAGE];
	end_child(child);
	close(fd);
	if (first != (uint8_t)(second - 1))
		return bug("SMP_IOC_PEEK after fork(): page 0 holds %#x, page 1 %#x", first, second);
	return ok("SMP_IOC_PEEK after fork() and a parent write: the block is in page 0 (%#x) and page 1 "
		  "(%#x); no reference is kept", first, second);
}

REPRO_SCENARIOS(
	{ "attached-ring-diverges-after-fork", attached_ring_diverges_after_fork },
	{ "peek-reaches-the-process-after-fork", peek_reaches_the_process_after_fork },
)

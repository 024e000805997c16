/*
 * Repro of testdata/gup001/pin-in-mmap: mmap() of /dev/ringmap takes FOLL_GET references on
 * the completion buffer and keeps them with the mapping. After fork() and a write by the
 * parent, RING_IOC_COMPLETE posts its record into the old page: the parent never sees it.
 * /dev/ringmap_lt pins with FOLL_LONGTERM and the record arrives.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define RING_SIZE		(64 * 1024)
#define RING_COMP_PAGES		4
#define RING_IOC_SET_COMP	_IOW('R', 1, uint64_t)
#define RING_IOC_COMPLETE	_IOW('R', 2, uint32_t)

static int complete_after_fork(const char *device)
{
	uint32_t *comp = map_buffer(RING_COMP_PAGES * REPRO_PAGE);
	uint64_t addr = (uintptr_t)comp;
	uint32_t tag = 0x600df00d, seen;
	int fd = open(device, O_RDWR);
	void *ring;
	pid_t child;

	if (fd < 0 || !comp)
		return setup_error("%s: %s", device, strerror(errno));
	if (ioctl(fd, RING_IOC_SET_COMP, &addr))
		return setup_error("RING_IOC_SET_COMP: %s", strerror(errno));
	ring = mmap(NULL, RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED)
		return setup_error("mmap(%s): %s", device, strerror(errno));
	child = fork_idle_child();
	comp[0] = 0;
	if (ioctl(fd, RING_IOC_COMPLETE, &tag))
		return setup_error("RING_IOC_COMPLETE: %s", strerror(errno));
	seen = comp[0];
	end_child(child);
	munmap(ring, RING_SIZE);
	close(fd);
	if (seen != tag)
		return bug("after fork() and a write by the parent, the completion %#x posted through the "
			   "pages %s pinned at mmap() never reached the process (it reads %#x)",
			   tag, device, seen);
	return ok("after fork() and a parent write the completion %#x reached the process", tag);
}

static int mmap_get_diverges_after_fork(void)
{
	return complete_after_fork("/dev/ringmap");
}

static int mmap_longterm_stays_coherent_after_fork(void)
{
	return complete_after_fork("/dev/ringmap_lt");
}

REPRO_SCENARIOS(
	{ "mmap-get-diverges-after-fork", mmap_get_diverges_after_fork },
	{ "mmap-longterm-stays-coherent-after-fork", mmap_longterm_stays_coherent_after_fork },
)

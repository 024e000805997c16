/*
 * Repro of testdata/gup001/get-kept-in-private-data: the capture buffer's FOLL_GET references
 * are kept by FG_IOC_SET_BUFFER. After fork() the parent's next write copies page 0, and the
 * device's FG_IOC_CAPTURE writes into the old page: the parent never sees that capture in
 * page 0 (page 1, which nobody wrote, shows it). FG_IOC_SNAPSHOT takes its references after
 * the fork and writes where the process sees it.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define FRAME_BYTES	(640 * 480 * 2)
#define FG_IOC_SET_BUFFER	_IOW('F', 1, uint64_t)
#define FG_IOC_CAPTURE		_IO('F', 2)
#define FG_IOC_SNAPSHOT		_IOW('F', 3, uint64_t)

static int set_buffer_diverges_after_fork(void)
{
	uint8_t *frame = map_buffer(FRAME_BYTES);
	uint64_t addr = (uintptr_t)frame;
	int fd = open("/dev/framegrab", O_RDWR);
	uint8_t page0, page1;
	pid_t child;

	if (fd < 0 || !frame)
		return setup_error("/dev/framegrab: %s", strerror(errno));
	if (ioctl(fd, FG_IOC_SET_BUFFER, &addr))
		return setup_error("FG_IOC_SET_BUFFER: %s", strerror(errno));
	child = fork_idle_child();
	frame[0] = 0x11;
	if (ioctl(fd, FG_IOC_CAPTURE))
		return setup_error("FG_IOC_CAPTURE: %s", strerror(errno));
	page0 = frame[0];
	page1 = frame[REPRO_PAGE];
	end_child(child);
	close(fd);
	if (page0 != (uint8_t)(page1 - 1))
		return bug("after fork() and a write by the parent, FG_IOC_CAPTURE filled the kept pages "
			   "(page 1 reads %#x) but the process's page 0 still holds its own %#x instead of "
			   "%#x: the device writes into the page the parent no longer maps",
			   page1, page0, (uint8_t)(page1 - 1));
	return ok("after fork() and a parent write the capture reached the process (page 0 %#x, page 1 %#x)",
		  page0, page1);
}

static int snapshot_stays_coherent_after_fork(void)
{
	uint8_t *frame = map_buffer(FRAME_BYTES);
	uint64_t addr = (uintptr_t)frame;
	int fd = open("/dev/framegrab", O_RDWR);
	uint8_t page0, page1;
	pid_t child;

	if (fd < 0 || !frame)
		return setup_error("/dev/framegrab: %s", strerror(errno));
	child = fork_idle_child();
	frame[0] = 0x11;
	if (ioctl(fd, FG_IOC_SNAPSHOT, &addr))
		return setup_error("FG_IOC_SNAPSHOT: %s", strerror(errno));
	page0 = frame[0];
	page1 = frame[REPRO_PAGE];
	end_child(child);
	close(fd);
	if (page0 != (uint8_t)(page1 - 1))
		return bug("FG_IOC_SNAPSHOT after fork(): page 0 holds %#x, page 1 %#x", page0, page1);
	return ok("FG_IOC_SNAPSHOT after fork() and a parent write: the process sees the frame in page 0 "
		  "(%#x) and page 1 (%#x); no reference is left behind", page0, page1);
}

REPRO_SCENARIOS(
	{ "set-buffer-diverges-after-fork", set_buffer_diverges_after_fork },
	{ "snapshot-stays-coherent-after-fork", snapshot_stays_coherent_after_fork },
)

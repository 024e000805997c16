/*
 * Repro of testdata/gup001/kept-by-frame-number: the driver keeps only the frame numbers of a
 * registered two-page buffer. With FL_IOC_REGISTER (FOLL_GET references) a fork() followed by a
 * write from the parent gives the parent a fresh copy of page 0, and FL_IOC_STAMP writes into
 * the old frame: the parent sees the stamp in page 1 but not in page 0. With
 * FL_IOC_REGISTER_LT (FOLL_PIN | FOLL_LONGTERM) fork() copies the pinned pages for the child
 * and the parent keeps the registered ones: both stamps reach it.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define FL_BYTES		(2 * REPRO_PAGE)
#define FL_IOC_REGISTER		_IOW('L', 1, uint64_t)
#define FL_IOC_REGISTER_LT	_IOW('L', 2, uint64_t)
#define FL_IOC_STAMP		_IO('L', 3)

static int register_fork_and_stamp(unsigned long request, const char *name)
{
	uint8_t *buf = map_buffer(FL_BYTES);
	uint64_t addr = (uintptr_t)buf;
	int fd = open("/dev/framelist", O_RDWR);
	uint8_t page0, page1;
	pid_t child;

	if (fd < 0 || !buf)
		return setup_error("/dev/framelist: %s", strerror(errno));
	if (ioctl(fd, request, &addr))
		return setup_error("%s: %s", name, strerror(errno));
	child = fork_idle_child();
	buf[0] = 0x11;	/* the parent writes page 0 after the fork */
	if (ioctl(fd, FL_IOC_STAMP))
		return setup_error("FL_IOC_STAMP: %s", strerror(errno));
	page0 = buf[0];
	page1 = buf[REPRO_PAGE];
	end_child(child);
	close(fd);
	if (page0 != (uint8_t)(page1 - 1))
		return bug("%s, fork() and a parent write: FL_IOC_STAMP reached page 1 (%#x) but page 0 "
			   "still holds the parent's %#x instead of %#x: the kept frame is no longer the "
			   "parent's page", name, page1, page0, (uint8_t)(page1 - 1));
	return ok("%s, fork() and a parent write: FL_IOC_STAMP reached both pages (%#x, %#x)",
		  name, page0, page1);
}

static int register_by_frame_diverges_after_fork(void)
{
	return register_fork_and_stamp(FL_IOC_REGISTER, "FL_IOC_REGISTER");
}

static int register_longterm_stays_coherent_after_fork(void)
{
	return register_fork_and_stamp(FL_IOC_REGISTER_LT, "FL_IOC_REGISTER_LT");
}

REPRO_SCENARIOS(
	{ "register-by-frame-diverges-after-fork", register_by_frame_diverges_after_fork },
	{ "register-longterm-stays-coherent-after-fork", register_longterm_stays_coherent_after_fork },
)

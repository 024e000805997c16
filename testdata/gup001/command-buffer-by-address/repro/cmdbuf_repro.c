/*
 * Repro of testdata/gup001/command-buffer-by-address: a 2-page buffer. CB_IOC_START loads the
 * device's command with the physical addresses of the pages (FOLL_GET references) and returns;
 * the process forks and writes page 0, which gives it a fresh copy of that page; CB_IOC_DONE
 * then has the device write the old frame, so the process sees the device's byte in page 1
 * only. CB_IOC_RUN executes the command and drops the references before it returns: the device
 * writes both pages and no reference is left.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define CB_PAGES		2
#define CB_BYTES		(CB_PAGES * REPRO_PAGE)

struct cb_req {
	uint64_t addr;
	uint32_t nr_pages;
	uint32_t fill;
};

#define CB_IOC_RUN		_IOW('c', 1, struct cb_req)
#define CB_IOC_START		_IOW('c', 2, struct cb_req)
#define CB_IOC_DONE		_IO('c', 3)

static int start_then_fork_loses_device_write(void)
{
	uint8_t *buf = map_buffer(CB_BYTES);
	struct cb_req req = { .addr = (uintptr_t)buf, .nr_pages = CB_PAGES, .fill = 0x7e };
	int fd = open("/dev/cmdbuf", O_RDWR);
	uint8_t page0, page1;
	pid_t child;

	if (fd < 0 || !buf)
		return setup_error("/dev/cmdbuf: %s", strerror(errno));
	if (ioctl(fd, CB_IOC_START, &req))
		return setup_error("CB_IOC_START: %s", strerror(errno));
	child = fork_idle_child();
	if (child < 0)
		return setup_error("fork: %s", strerror(errno));
	buf[0] = 0x11;	/* the parent writes page 0 after the fork */
	if (ioctl(fd, CB_IOC_DONE))
		return setup_error("CB_IOC_DONE: %s", strerror(errno));
	page0 = buf[0];
	page1 = buf[REPRO_PAGE];
	end_child(child);
	close(fd);
	if (page1 != 0x7e)
		return setup_error("the device did not write page 1 (%#x)", page1);
	if (page0 != 0x7e)
		return bug("CB_IOC_START, fork() and a parent write, CB_IOC_DONE: the device's byte reached "
			   "page 1 (%#x) but page 0 still holds the parent's %#x: the command kept the "
			   "old frame by its address", page1, page0);
	return ok("CB_IOC_START, fork() and a parent write, CB_IOC_DONE: the device's byte reached both "
		  "pages");
}

static int run_writes_and_drops_pages(void)
{
	uint8_t *buf = map_buffer(CB_BYTES);
	struct cb_req req = { .addr = (uintptr_t)buf, .nr_pages = CB_PAGES, .fill = 0x2d };
	struct gupprobe_page before, after;
	int fd = open("/dev/cmdbuf", O_RDWR);

	if (fd < 0 || !buf)
		return setup_error("/dev/cmdbuf: %s", strerror(errno));
	if (page_info(buf, &before))
		return setup_error("gupprobe: %s", strerror(errno));
	if (ioctl(fd, CB_IOC_RUN, &req))
		return setup_error("CB_IOC_RUN: %s", strerror(errno));
	if (page_info(buf, &after))
		return setup_error("gupprobe: %s", strerror(errno));
	close(fd);
	if (buf[0] != 0x2d || buf[REPRO_PAGE] != 0x2d)
		return setup_error("the device did not write the pages (%#x, %#x)", buf[0], buf[REPRO_PAGE]);
	if (after.refcount > before.refcount)
		return bug("CB_IOC_RUN returned with %u more reference(s) on the buffer's first page",
			   after.refcount - before.refcount);
	return ok("CB_IOC_RUN: the device wrote both pages and the references are back to %u",
		  after.refcount);
}

REPRO_SCENARIOS(
	{ "start-then-fork-loses-device-write", start_then_fork_loses_device_write },
	{ "run-writes-and-drops-pages", run_writes_and_drops_pages },
)

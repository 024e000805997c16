/*
 * Repro of testdata/gup001/queued-transfer-waited: a 4-page buffer handed to a device that takes
 * `delay_ms` to serve it, by a caller that waits `timeout_ms`. With a timeout shorter than the
 * device, SQ_IOC_XFER_LAZY returns -ETIMEDOUT and the first page still carries the driver's
 * reference (FOLL_GET kept after the syscall returned); the device then writes the page long
 * after the caller was told the transfer failed. SQ_IOC_XFER, timed out the same way, returns
 * with the references dropped; given time, it completes and fills the buffer.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define SQ_PAGES		4
#define SQ_BYTES		(SQ_PAGES * REPRO_PAGE)

struct sq_args {
	uint64_t addr;
	uint32_t nr_pages;
	uint32_t fill;
	uint32_t timeout_ms;
	uint32_t delay_ms;
};

#define SQ_IOC_XFER		_IOW('q', 1, struct sq_args)
#define SQ_IOC_XFER_LAZY	_IOW('q', 2, struct sq_args)

/* A transfer that times out (device 300 ms, caller 20 ms); the references the driver still holds. */
static int timed_out_transfer(unsigned long request, const char *name)
{
	uint8_t *buf = map_buffer(SQ_BYTES);
	struct sq_args args = { .addr = (uintptr_t)buf, .nr_pages = SQ_PAGES, .fill = 0x3c,
				.timeout_ms = 20, .delay_ms = 300 };
	struct gupprobe_page before, after;
	int fd = open("/dev/syncq", O_RDWR);
	long ret;
	int err;

	if (fd < 0 || !buf)
		return setup_error("/dev/syncq: %s", strerror(errno));
	if (page_info(buf, &before))
		return setup_error("gupprobe: %s", strerror(errno));
	ret = ioctl(fd, request, &args);
	err = errno;
	if (page_info(buf, &after))
		return setup_error("gupprobe: %s", strerror(errno));
	if (ret != -1 || err != ETIMEDOUT)
		return setup_error("%s did not time out (%ld, %s)", name, ret, strerror(err));
	usleep(600 * 1000);	/* the device's turn */
	if (after.refcount > before.refcount) {
		uint8_t late = buf[0];

		close(fd);
		return bug("%s returned -ETIMEDOUT holding %u more reference(s) on the buffer's first page "
			   "(%u before, %u after); afterwards the device wrote %#x into it", name,
			   after.refcount - before.refcount, before.refcount, after.refcount, late);
	}
	close(fd);
	return ok("%s returned -ETIMEDOUT with the page references back to %u (byte now %#x)", name,
		  after.refcount, buf[0]);
}

static int lazy_timeout_keeps_pages(void)
{
	return timed_out_transfer(SQ_IOC_XFER_LAZY, "SQ_IOC_XFER_LAZY");
}

static int xfer_timeout_drops_pages(void)
{
	return timed_out_transfer(SQ_IOC_XFER, "SQ_IOC_XFER");
}

static int xfer_completes_and_drops_pages(void)
{
	uint8_t *buf = map_buffer(SQ_BYTES);
	struct sq_args args = { .addr = (uintptr_t)buf, .nr_pages = SQ_PAGES, .fill = 0x71,
				.timeout_ms = 2000, .delay_ms = 10 };
	struct gupprobe_page before, after;
	int fd = open("/dev/syncq", O_RDWR);

	if (fd < 0 || !buf)
		return setup_error("/dev/syncq: %s", strerror(errno));
	if (page_info(buf, &before))
		return setup_error("gupprobe: %s", strerror(errno));
	if (ioctl(fd, SQ_IOC_XFER, &args))
		return setup_error("SQ_IOC_XFER: %s", strerror(errno));
	if (page_info(buf, &after))
		return setup_error("gupprobe: %s", strerror(errno));
	close(fd);
	if (buf[0] != 0x71 || buf[SQ_BYTES - 1] != 0x71)
		return setup_error("the device did not fill the buffer (%#x, %#x)", buf[0], buf[SQ_BYTES - 1]);
	if (after.refcount > before.refcount)
		return bug("SQ_IOC_XFER completed and returned with %u more reference(s) on the buffer",
			   after.refcount - before.refcount);
	return ok("SQ_IOC_XFER completed, the buffer was filled and its references are back to %u",
		  after.refcount);
}

REPRO_SCENARIOS(
	{ "lazy-timeout-keeps-pages", lazy_timeout_keeps_pages },
	{ "xfer-timeout-drops-pages", xfer_timeout_drops_pages },
	{ "xfer-completes-and-drops-pages", xfer_completes_and_drops_pages },
)

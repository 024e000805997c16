/*
 * Repro of testdata/gup001/held-until-io-completes: a 4-page buffer. After XQ_IOC_REGISTER
 * returns, and with no transfer pending, its pages are still pinned (FOLL_PIN without
 * FOLL_LONGTERM) until XQ_IOC_UNREGISTER: a long-term pin. After XQ_IOC_SUBMIT the pages are held
 * only until the transfer completes: once XQ_IOC_WAIT returns the device has filled them and
 * nothing is left pinned.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define XQ_PAGES	4
#define XQ_BYTES	(XQ_PAGES * REPRO_PAGE)

struct xq_buf {
	uint64_t addr;
	uint32_t nr_pages;
	uint32_t fill;
};

#define XQ_IOC_SUBMIT		_IOW('x', 1, struct xq_buf)
#define XQ_IOC_WAIT		_IO('x', 2)
#define XQ_IOC_REGISTER		_IOW('x', 3, struct xq_buf)
#define XQ_IOC_UNREGISTER	_IO('x', 4)

static int register_keeps_pin_after_return(void)
{
	uint8_t *buf = map_buffer(XQ_BYTES);
	struct xq_buf req = { .addr = (uintptr_t)buf, .nr_pages = XQ_PAGES };
	int fd = open("/dev/xferq", O_RDWR);
	long before, held;

	if (fd < 0 || !buf)
		return setup_error("/dev/xferq: %s", strerror(errno));
	before = pins_held();
	if (ioctl(fd, XQ_IOC_REGISTER, &req) < 0)
		return setup_error("XQ_IOC_REGISTER: %s", strerror(errno));
	if (ioctl(fd, XQ_IOC_WAIT, 0) < 0)
		return setup_error("XQ_IOC_WAIT: %s", strerror(errno));
	held = pins_held() - before;	/* no transfer pending, the file still open */
	ioctl(fd, XQ_IOC_UNREGISTER, 0);
	close(fd);
	if (held > 0)
		return bug("XQ_IOC_REGISTER returned with %ld FOLL_PIN pins held and no transfer pending: "
			   "the buffer stays pinned until XQ_IOC_UNREGISTER, a long-term pin without "
			   "FOLL_LONGTERM", held);
	return ok("XQ_IOC_REGISTER left no pin once it returned");
}

static int submit_unpins_when_transfer_completes(void)
{
	uint8_t *buf = map_buffer(XQ_BYTES);
	struct xq_buf req = { .addr = (uintptr_t)buf, .nr_pages = XQ_PAGES, .fill = 0x6b };
	int fd = open("/dev/xferq", O_RDWR);
	long before, held;

	if (fd < 0 || !buf)
		return setup_error("/dev/xferq: %s", strerror(errno));
	before = pins_held();
	if (ioctl(fd, XQ_IOC_SUBMIT, &req) < 0)
		return setup_error("XQ_IOC_SUBMIT: %s", strerror(errno));
	if (ioctl(fd, XQ_IOC_WAIT, 0) < 0)
		return setup_error("XQ_IOC_WAIT: %s", strerror(errno));
	held = pins_held() - before;
	close(fd);
	if (buf[0] != 0x6b || buf[XQ_BYTES - 1] != 0x6b)
		return setup_error("the transfer did not fill the buffer (%#x, %#x)", buf[0], buf[XQ_BYTES - 1]);
	if (held > 0)
		return bug("after the transfer completed %ld FOLL_PIN pins were still held", held);
	return ok("the submitted buffer was filled and unpinned when the transfer completed");
}

REPRO_SCENARIOS(
	{ "register-keeps-pin-after-return", register_keeps_pin_after_return },
	{ "submit-unpins-when-transfer-completes", submit_unpins_when_transfer_completes },
)

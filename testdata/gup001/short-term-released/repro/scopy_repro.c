/*
 * Repro of testdata/gup001/short-term-released: SCOPY_IOC_WRITE_CHECKED pins the user buffer
 * before it checks dev_offset; an offset past the device buffer returns -EINVAL with the pins
 * still held, for good. The look-alikes drop their pins and references before returning.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct scopy_xfer {
	uint64_t user_addr;
	uint64_t length;
	uint64_t dev_offset;
};

struct scopy_word {
	uint64_t user_addr;
	uint64_t dev_offset;
};

#define SCOPY_IOC_READ		_IOW('S', 1, struct scopy_xfer)
#define SCOPY_IOC_WRITE		_IOW('S', 2, struct scopy_xfer)
#define SCOPY_IOC_READ_WORD	_IOW('S', 3, struct scopy_word)
#define SCOPY_IOC_WRITE_CHECKED	_IOW('S', 4, struct scopy_xfer)

#define XFER_PAGES	2

static int pins_left(unsigned long request, uint64_t dev_offset, long *ret)
{
	uint8_t *buf = map_buffer(XFER_PAGES * REPRO_PAGE);
	struct scopy_xfer x = { .length = XFER_PAGES * REPRO_PAGE, .dev_offset = dev_offset };
	int fd = open("/dev/scopy", O_RDWR);
	long before;

	if (fd < 0 || !buf) {
		setup_error("/dev/scopy: %s", strerror(errno));
		return INT_MIN;
	}
	x.user_addr = (uintptr_t)buf;
	before = pins_held();
	*ret = ioctl(fd, request, &x) < 0 ? -errno : 0;
	close(fd);
	munmap(buf, XFER_PAGES * REPRO_PAGE);
	return (int)(pins_held() - before);
}

static int write_checked_bad_offset_leaks_pins(void)
{
	long ret;
	int left = pins_left(SCOPY_IOC_WRITE_CHECKED, 2 << 20, &ret);

	if (left == INT_MIN)
		return 0;
	if (left > 0)
		return bug("SCOPY_IOC_WRITE_CHECKED with dev_offset 2 MiB returned %ld and left %d FOLL_PIN "
			   "pins held after close (nr_foll_pin_acquired - nr_foll_pin_released)", ret, left);
	return ok("SCOPY_IOC_WRITE_CHECKED returned %ld and left no pin", ret);
}

static int write_unpins(void)
{
	long ret;
	int left = pins_left(SCOPY_IOC_WRITE, 0, &ret);

	if (left == INT_MIN)
		return 0;
	if (ret)
		return setup_error("SCOPY_IOC_WRITE returned %ld", ret);
	if (left)
		return bug("SCOPY_IOC_WRITE left %d FOLL_PIN pins held", left);
	return ok("SCOPY_IOC_WRITE copied 8 KiB and left no FOLL_PIN pin");
}

/* The references on buf's pages before and after one request. */
static int references_kept(unsigned long request, void *arg, uint8_t *buf, int pages, const char *name)
{
	struct gupprobe_page before[XFER_PAGES], after[XFER_PAGES];
	int fd = open("/dev/scopy", O_RDWR);
	long ret;
	int i;

	if (fd < 0)
		return setup_error("/dev/scopy: %s", strerror(errno));
	for (i = 0; i < pages; i++) {
		if (page_info(buf + i * REPRO_PAGE, &before[i]))
			return setup_error("gupprobe: %s", strerror(errno));
	}
	ret = ioctl(fd, request, arg) < 0 ? -errno : 0;
	close(fd);
	if (ret)
		return setup_error("%s returned %ld", name, ret);
	for (i = 0; i < pages; i++) {
		if (page_info(buf + i * REPRO_PAGE, &after[i]))
			return setup_error("gupprobe: %s", strerror(errno));
		if (after[i].refcount != before[i].refcount)
			return bug("%s left page %d with %u references (%u before)", name, i,
				   after[i].refcount, before[i].refcount);
	}
	return ok("%s returned 0 and every page is back to its %u reference(s)", name, after[0].refcount);
}

static int read_puts_pages(void)
{
	uint8_t *buf = map_buffer(XFER_PAGES * REPRO_PAGE);
	struct scopy_xfer x = { .user_addr = (uintptr_t)buf, .length = XFER_PAGES * REPRO_PAGE };

	if (!buf)
		return setup_error("mmap: %s", strerror(errno));
	return references_kept(SCOPY_IOC_READ, &x, buf, XFER_PAGES, "SCOPY_IOC_READ");
}

static int read_word_puts_page(void)
{
	uint8_t *buf = map_buffer(REPRO_PAGE);
	struct scopy_word w = { .user_addr = (uintptr_t)buf + 64 };

	if (!buf)
		return setup_error("mmap: %s", strerror(errno));
	return references_kept(SCOPY_IOC_READ_WORD, &w, buf, 1, "SCOPY_IOC_READ_WORD");
}

REPRO_SCENARIOS(
	{ "write-checked-bad-offset-leaks-pins", write_checked_bad_offset_leaks_pins },
	{ "write-unpins", write_unpins },
	{ "read-puts-pages", read_puts_pages },
	{ "read-word-puts-page", read_word_puts_page },
)

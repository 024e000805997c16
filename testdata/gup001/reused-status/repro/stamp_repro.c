/*
 * Repro of testdata/gup001/reused-status: a 16-page buffer whose first word is not the magic the
 * driver checks for. STAMP_IOC_APPLY returns -EBADMSG with the 16 pages still pinned; _V2 and _V3
 * unpin them on the same failure. Each scenario counts the FOLL_PIN pins left after close.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define NR_PAGES	16
#define BUF_BYTES	(NR_PAGES * REPRO_PAGE)

struct stamp_req {
	uint64_t addr;
	uint32_t nr_pages;
	uint32_t stamp;
};

#define STAMP_IOC_APPLY		_IOW('s', 1, struct stamp_req)
#define STAMP_IOC_APPLY_V2	_IOW('s', 2, struct stamp_req)
#define STAMP_IOC_APPLY_V3	_IOW('s', 3, struct stamp_req)

static int apply_bad_header(unsigned long request, const char *name)
{
	struct stamp_req req = { .nr_pages = NR_PAGES, .stamp = 7 };
	uint32_t *buf = map_buffer(BUF_BYTES);
	long before, left, ret;
	int fd;

	fd = open("/dev/stamp", O_RDWR);
	if (fd < 0 || !buf)
		return setup_error("/dev/stamp: %s", strerror(errno));
	buf[0] = 0x12345678;	/* not STAMP_MAGIC */
	req.addr = (uintptr_t)buf;
	before = pins_held();
	ret = ioctl(fd, request, &req) < 0 ? -errno : 0;
	close(fd);
	munmap(buf, BUF_BYTES);
	left = pins_held() - before;
	if (ret != -EBADMSG)
		return setup_error("%s with a bad header returned %ld, not -EBADMSG", name, ret);
	if (left > 0)
		return bug("%s with a bad header returned -EBADMSG and left %ld FOLL_PIN pins held after close "
			   "(nr_foll_pin_acquired - nr_foll_pin_released)", name, left);
	return ok("%s with a bad header returned -EBADMSG and left no FOLL_PIN pin", name);
}

static int apply_bad_header_leaks_pins(void)
{
	return apply_bad_header(STAMP_IOC_APPLY, "STAMP_IOC_APPLY");
}

static int apply_v2_bad_header_unpins(void)
{
	return apply_bad_header(STAMP_IOC_APPLY_V2, "STAMP_IOC_APPLY_V2");
}

static int apply_v3_bad_header_unpins(void)
{
	return apply_bad_header(STAMP_IOC_APPLY_V3, "STAMP_IOC_APPLY_V3");
}

REPRO_SCENARIOS(
	{ "apply-bad-header-leaks-pins", apply_bad_header_leaks_pins },
	{ "apply-v2-bad-header-unpins", apply_v2_bad_header_unpins },
	{ "apply-v3-bad-header-unpins", apply_v3_bad_header_unpins },
)

/*
 * Repro of testdata/gup001/guarded-cleanup: a one-page buffer without the tag the driver looks
 * for. BLIT_IOC_FILL returns -EPROTO and its cleanup guard (`pinned > 1`) skips the unpin of
 * the single pinned page; BLIT_IOC_FILL_SAFE (`pinned > 0`) unpins it. Each scenario counts
 * the FOLL_PIN pins left after close.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct blit_args {
	uint64_t user_addr;
	uint32_t nr_pages;
	uint32_t pattern;
};

#define BLIT_IOC_FILL		_IOW('b', 1, struct blit_args)
#define BLIT_IOC_FILL_SAFE	_IOW('b', 2, struct blit_args)

static int fill_untagged(unsigned long request, const char *name)
{
	struct blit_args args = { .nr_pages = 1, .pattern = 0x5a5a5a5a };
	uint32_t *buf = map_buffer(REPRO_PAGE);
	long before, left, ret;
	int fd;

	fd = open("/dev/blitpage", O_RDWR);
	if (fd < 0 || !buf)
		return setup_error("/dev/blitpage: %s", strerror(errno));
	buf[0] = 0;	/* not the tag */
	args.user_addr = (uintptr_t)buf;
	before = pins_held();
	ret = ioctl(fd, request, &args) < 0 ? -errno : 0;
	close(fd);
	munmap(buf, REPRO_PAGE);
	left = pins_held() - before;
	if (ret != -EPROTO)
		return setup_error("%s on an untagged page returned %ld, not -EPROTO", name, ret);
	if (left > 0)
		return bug("%s on an untagged page returned -EPROTO and left %ld FOLL_PIN pins held after "
			   "close (nr_foll_pin_acquired - nr_foll_pin_released)", name, left);
	return ok("%s on an untagged page returned -EPROTO and left no FOLL_PIN pin", name);
}

static int fill_one_untagged_page_leaks_pin(void)
{
	return fill_untagged(BLIT_IOC_FILL, "BLIT_IOC_FILL");
}

static int fill_safe_one_untagged_page_unpins(void)
{
	return fill_untagged(BLIT_IOC_FILL_SAFE, "BLIT_IOC_FILL_SAFE");
}

REPRO_SCENARIOS(
	{ "fill-one-untagged-page-leaks-pin", fill_one_untagged_page_leaks_pin },
	{ "fill-safe-one-untagged-page-unpins", fill_safe_one_untagged_page_unpins },
)

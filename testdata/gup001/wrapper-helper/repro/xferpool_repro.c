/*
 * Repro of testdata/gup001/wrapper-helper: XFP_IOC_ATTACH (per-file context) and
 * XFP_IOC_STAGE (a global) keep the FOLL_GET references their helpers took; after fork() and
 * a write by the parent the kept page (read through gupprobe) is no longer the process's.
 * XFP_IOC_FILL and XFP_IOC_VERIFY drop their references before returning.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct xfp_range {
	uint64_t addr;
	uint32_t nr_pages;
	uint32_t seed;
};

#define XFP_IOC_ATTACH		_IOW('X', 1, struct xfp_range)
#define XFP_IOC_FILL		_IOW('X', 2, struct xfp_range)
#define XFP_IOC_STAGE		_IOW('X', 3, struct xfp_range)
#define XFP_IOC_VERIFY		_IOWR('X', 4, struct xfp_range)
#define XFP_IOC_DETACH		_IO('X', 5)

static int keep_then_fork(unsigned long request, const char *name)
{
	uint8_t *buf = map_buffer(REPRO_PAGE);
	struct xfp_range r = { .addr = (uintptr_t)buf, .nr_pages = 1 };

	return request_then_fork("/dev/xferpool", request, name, &r, buf);
}

static int attach_diverges_after_fork(void)
{
	return keep_then_fork(XFP_IOC_ATTACH, "XFP_IOC_ATTACH");
}

static int stage_diverges_after_fork(void)
{
	return keep_then_fork(XFP_IOC_STAGE, "XFP_IOC_STAGE");
}

static int references_back(unsigned long request, const char *name)
{
	uint8_t *buf = map_buffer(2 * REPRO_PAGE);
	struct xfp_range r = { .addr = (uintptr_t)buf, .nr_pages = 2, .seed = 7 };
	struct gupprobe_page before, after;
	int fd = open("/dev/xferpool", O_RDWR);
	long ret;

	if (fd < 0 || !buf)
		return setup_error("/dev/xferpool: %s", strerror(errno));
	if (page_info(buf, &before))
		return setup_error("gupprobe: %s", strerror(errno));
	ret = ioctl(fd, request, &r) < 0 ? -errno : 0;
	close(fd);
	if (ret)
		return setup_error("%s returned %ld", name, ret);
	if (page_info(buf, &after))
		return setup_error("gupprobe: %s", strerror(errno));
	if (after.refcount != before.refcount)
		return bug("%s left the page with %u references (%u before)", name, after.refcount, before.refcount);
	return ok("%s returned 0 and the page is back to %u reference(s)", name, after.refcount);
}

static int fill_puts_pages(void)
{
	return references_back(XFP_IOC_FILL, "XFP_IOC_FILL");
}

static int verify_puts_pages(void)
{
	return references_back(XFP_IOC_VERIFY, "XFP_IOC_VERIFY");
}

REPRO_SCENARIOS(
	{ "attach-diverges-after-fork", attach_diverges_after_fork },
	{ "stage-diverges-after-fork", stage_diverges_after_fork },
	{ "fill-puts-pages", fill_puts_pages },
	{ "verify-puts-pages", verify_puts_pages },
)

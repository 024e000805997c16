/*
 * Repro of testdata/gup002/two-drivers-same-macro. Both drivers' headers define
 * XDEV_IOC_REGISTER, so the two values are spelled out here: 'X' for xdev_keep, which keeps a
 * FOLL_LONGTERM pin until XDEV_IOC_RELEASE, and 'Y' for xdev_oneshot, which unpins before
 * returning. A stack buffer registered with xdev_keep in a function that returns stays
 * pinned; a device write into it (gupprobe writing the kept page frame) lands in a later frame.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct xdev_buf {
	uint64_t addr;
	uint64_t len;
};

#define XDEV_KEEP_REGISTER	_IOW('X', 1, struct xdev_buf)
#define XDEV_KEEP_RELEASE	_IO('X', 2)
#define XDEV_ONESHOT_REGISTER	_IOW('Y', 1, struct xdev_buf)

#define BUF_BYTES	16384
#define VICTIM_BYTES	(32 * 1024)

static uintptr_t registered_at;
static uint64_t kept_pfn;

/* As main() of xdev_keep_app.c, moved into a function that returns without XDEV_IOC_RELEASE. */
static __attribute__((noinline)) int register_stack_buffer(int fd, unsigned long request)
{
	char buf[BUF_BYTES] __attribute__((aligned(4096)));
	struct xdev_buf req = { .addr = (uintptr_t)buf, .len = sizeof(buf) };
	struct gupprobe_page page;

	memset(buf, 0, sizeof(buf));
	if (ioctl(fd, request, &req) < 0)
		return -1;
	if (page_info(buf, &page))
		return -1;
	registered_at = (uintptr_t)buf;
	kept_pfn = page.pfn;
	return 0;
}

/* A later frame over the same stack memory; the device writes the first kept page. */
static __attribute__((noinline)) int victim(uintptr_t old, uintptr_t *where)
{
	volatile uint8_t area[VICTIM_BYTES];
	int changed = 0;
	size_t i;

	for (i = 0; i < sizeof(area); i++)
		area[i] = 0x3c;
	if (old < (uintptr_t)area || old + REPRO_PAGE > (uintptr_t)area + sizeof(area))
		return -1;
	if (pfn_fill(kept_pfn, 0, REPRO_PAGE, 0x77))
		return -2;
	for (i = 0; i < sizeof(area); i++) {
		if (area[i] != 0x3c) {
			if (!changed)
				*where = (uintptr_t)&area[i];
			changed++;
		}
	}
	return changed;
}

static int keep_stack_pinned_after_return(void)
{
	int fd = open("/dev/xdev_keep", O_RDWR);
	long pins = pins_held();
	uintptr_t where = 0;
	int changed;

	if (fd < 0)
		return setup_error("/dev/xdev_keep: %s", strerror(errno));
	if (register_stack_buffer(fd, XDEV_KEEP_REGISTER))
		return setup_error("XDEV_IOC_REGISTER: %s", strerror(errno));
	pins = pins_held() - pins;
	changed = victim(registered_at, &where);
	ioctl(fd, XDEV_KEEP_RELEASE, 0);
	close(fd);
	if (changed == -1)
		return setup_error("stack layout: the returned buffer %#lx is not inside victim()'s frame",
				   (unsigned long)registered_at);
	if (changed == -2)
		return setup_error("gupprobe: %s", strerror(errno));
	if (pins > 0 && changed)
		return bug("after register_stack_buffer() returned, xdev_keep still pinned its %ld stack "
			   "pages; a device write into the first one (pfn %#llx) changed %d bytes of "
			   "victim()'s local array from %#lx", pins, (unsigned long long)kept_pfn, changed,
			   (unsigned long)where);
	return ok("xdev_keep kept %ld pins after the function returned; a write to the kept page "
		  "changed %d bytes of the later frame", pins, changed);
}

static int oneshot_stack_keeps_no_pin(void)
{
	int fd = open("/dev/xdev_oneshot", O_RDWR);
	long pins = pins_held();

	if (fd < 0)
		return setup_error("/dev/xdev_oneshot: %s", strerror(errno));
	if (register_stack_buffer(fd, XDEV_ONESHOT_REGISTER))
		return setup_error("XDEV_IOC_REGISTER ('Y'): %s", strerror(errno));
	pins = pins_held() - pins;
	close(fd);
	if (pins)
		return bug("xdev_oneshot left %ld FOLL_PIN pins on the returned function's stack", pins);
	return ok("xdev_oneshot's XDEV_IOC_REGISTER read the stack buffer during the call and left no pin");
}

REPRO_SCENARIOS(
	{ "keep-stack-pinned-after-return", keep_stack_pinned_after_return },
	{ "oneshot-stack-keeps-no-pin", oneshot_stack_keeps_no_pin },
)

/*
 * Repro of testdata/gup001/longterm-pin-stored: a buffer in ZONE_MOVABLE registered for good.
 * RBUF_IOC_REGISTER_RO pins without FOLL_LONGTERM: the pages stay pinned where memory
 * hot-unplug and CMA must be able to migrate them. RBUF_IOC_REGISTER(_RW) pin with
 * FOLL_LONGTERM, which migrates them out of ZONE_MOVABLE first.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct rbuf_reg {
	uint64_t addr;
	uint64_t len;
};

#define RBUF_IOC_REGISTER	_IOW('B', 1, struct rbuf_reg)
#define RBUF_IOC_REGISTER_RO	_IOW('B', 2, struct rbuf_reg)
#define RBUF_IOC_REGISTER_RW	_IOW('B', 3, struct rbuf_reg)

#define BUF_PAGES	4

static int register_and_look(unsigned long request, const char *name, int expect_longterm)
{
	struct rbuf_reg reg = { .len = BUF_PAGES * REPRO_PAGE };
	struct gupprobe_page before, after;
	uint8_t *buf = map_buffer(BUF_PAGES * REPRO_PAGE);
	int fd = open("/dev/rdmabuf", O_RDWR);
	long pins;

	if (fd < 0 || !buf)
		return setup_error("/dev/rdmabuf: %s", strerror(errno));
	if (page_info(buf, &before))
		return setup_error("gupprobe: %s", strerror(errno));
	if (!before.movable)
		return setup_error("the buffer (pfn %#llx) is not in ZONE_MOVABLE: boot with movablecore=",
				   (unsigned long long)before.pfn);
	reg.addr = (uintptr_t)buf;
	pins = pins_held();
	if (ioctl(fd, request, &reg))
		return setup_error("%s: %s", name, strerror(errno));
	pins = pins_held() - pins;
	if (page_info(buf, &after))
		return setup_error("gupprobe: %s", strerror(errno));
	close(fd);
	if (after.pinned && after.movable)
		return bug("%s returned with %ld pages pinned (FOLL_PIN) and they stay in ZONE_MOVABLE "
			   "(pfn %#llx), where memory offlining and CMA must migrate them: the pin lacks "
			   "FOLL_LONGTERM", name, pins, (unsigned long long)after.pfn);
	if (!after.pinned)
		return setup_error("%s kept no pin on the buffer (%ld pins)", name, pins);
	return ok("%s pinned %ld pages after moving them out of ZONE_MOVABLE (pfn %#llx -> %#llx)%s",
		  name, pins, (unsigned long long)before.pfn, (unsigned long long)after.pfn,
		  expect_longterm ? ": a proper long-term pin" : "");
}

static int register_ro_pins_in_movable_zone(void)
{
	return register_and_look(RBUF_IOC_REGISTER_RO, "RBUF_IOC_REGISTER_RO", 0);
}

static int register_migrates_out_of_movable_zone(void)
{
	return register_and_look(RBUF_IOC_REGISTER, "RBUF_IOC_REGISTER", 1);
}

static int register_rw_migrates_out_of_movable_zone(void)
{
	return register_and_look(RBUF_IOC_REGISTER_RW, "RBUF_IOC_REGISTER_RW", 1);
}

REPRO_SCENARIOS(
	{ "register-ro-pins-in-movable-zone", register_ro_pins_in_movable_zone },
	{ "register-migrates-out-of-movable-zone", register_migrates_out_of_movable_zone },
	{ "register-rw-migrates-out-of-movable-zone", register_rw_migrates_out_of_movable_zone },
)

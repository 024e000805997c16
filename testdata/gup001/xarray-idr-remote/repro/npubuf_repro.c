/*
 * Repro of testdata/gup001/xarray-idr-remote:
 *   NPU_IOC_MAP_SLOT keeps a FOLL_PIN pin without FOLL_LONGTERM: the page stays pinned in
 *   ZONE_MOVABLE; NPU_IOC_MAP_SLOT_LT migrates it out first.
 *   NPU_IOC_MAP_REMOTE keeps get_user_pages_remote() references: after fork() and a parent
 *   write the kept page (read through gupprobe) is not the process's; NPU_IOC_MAP_REMOTE_LT
 *   pins long-term and stays coherent.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct npu_map {
	uint64_t addr;
	uint32_t nr_pages;
	uint32_t slot;
	uint32_t flags;
	uint32_t pad;
};

#define NPU_MAP_WRITE		0x1
#define NPU_IOC_MAP_SLOT	_IOWR('N', 1, struct npu_map)
#define NPU_IOC_MAP_SLOT_LT	_IOWR('N', 2, struct npu_map)
#define NPU_IOC_MAP_REMOTE	_IOWR('N', 3, struct npu_map)
#define NPU_IOC_MAP_REMOTE_LT	_IOWR('N', 4, struct npu_map)

static int map_and_look(unsigned long request, const char *name)
{
	uint8_t *buf = map_buffer(REPRO_PAGE);
	struct npu_map map = { .addr = (uintptr_t)buf, .nr_pages = 1, .slot = 0, .flags = NPU_MAP_WRITE };
	struct gupprobe_page before, after;
	int fd = open("/dev/npubuf", O_RDWR);

	if (fd < 0 || !buf)
		return setup_error("/dev/npubuf: %s", strerror(errno));
	if (page_info(buf, &before))
		return setup_error("gupprobe: %s", strerror(errno));
	if (!before.movable)
		return setup_error("the buffer (pfn %#llx) is not in ZONE_MOVABLE: boot with movablecore=",
				   (unsigned long long)before.pfn);
	if (ioctl(fd, request, &map))
		return setup_error("%s: %s", name, strerror(errno));
	if (page_info(buf, &after))
		return setup_error("gupprobe: %s", strerror(errno));
	close(fd);
	if (!after.pinned)
		return setup_error("%s kept no pin on the page", name);
	if (after.movable)
		return bug("%s returned with the page pinned (FOLL_PIN) in ZONE_MOVABLE (pfn %#llx), where "
			   "memory offlining and CMA must migrate it: the pin lacks FOLL_LONGTERM",
			   name, (unsigned long long)after.pfn);
	return ok("%s pinned the page after moving it out of ZONE_MOVABLE (pfn %#llx -> %#llx)",
		  name, (unsigned long long)before.pfn, (unsigned long long)after.pfn);
}

static int map_then_fork(unsigned long request, const char *name)
{
	uint8_t *buf = map_buffer(REPRO_PAGE);
	struct npu_map map = { .addr = (uintptr_t)buf, .nr_pages = 1, .flags = NPU_MAP_WRITE };

	return request_then_fork("/dev/npubuf", request, name, &map, buf);
}

static int map_slot_pins_in_movable_zone(void)
{
	return map_and_look(NPU_IOC_MAP_SLOT, "NPU_IOC_MAP_SLOT");
}

static int map_slot_lt_migrates_out_of_movable_zone(void)
{
	return map_and_look(NPU_IOC_MAP_SLOT_LT, "NPU_IOC_MAP_SLOT_LT");
}

static int map_remote_diverges_after_fork(void)
{
	return map_then_fork(NPU_IOC_MAP_REMOTE, "NPU_IOC_MAP_REMOTE");
}

static int map_remote_lt_stays_coherent_after_fork(void)
{
	return map_then_fork(NPU_IOC_MAP_REMOTE_LT, "NPU_IOC_MAP_REMOTE_LT");
}

REPRO_SCENARIOS(
	{ "map-slot-pins-in-movable-zone", map_slot_pins_in_movable_zone },
	{ "map-slot-lt-migrates-out-of-movable-zone", map_slot_lt_migrates_out_of_movable_zone },
	{ "map-remote-diverges-after-fork", map_remote_diverges_after_fork },
	{ "map-remote-lt-stays-coherent-after-fork", map_remote_lt_stays_coherent_after_fork },
)

/*
 * Repro of testdata/gup001/released-in-release: HB_IOC_HOLD_LEGACY keeps FOLL_GET references
 * until close. After fork() and a write by the parent to page 0, HB_IOC_STAMP stamps the old
 * page 0: the parent sees the stamp in page 1 (nobody wrote it) but not in page 0.
 * HB_IOC_HOLD pins with FOLL_LONGTERM and the stamp arrives in both.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct hb_hold {
	uint64_t addr;
	uint32_t nr_pages;
	uint32_t pad;
};

#define HB_IOC_HOLD		_IOW('H', 1, struct hb_hold)
#define HB_IOC_HOLD_LEGACY	_IOW('H', 2, struct hb_hold)
#define HB_IOC_STAMP		_IOW('H', 3, uint32_t)

static int stamp_after_fork(unsigned long request, const char *name)
{
	uint32_t *buf = map_buffer(2 * REPRO_PAGE);
	struct hb_hold hold = { .addr = (uintptr_t)buf, .nr_pages = 2 };
	uint32_t stamp = 0xabcd1234, page0, page1;
	int fd = open("/dev/holdbuf", O_RDWR);
	pid_t child;

	if (fd < 0 || !buf)
		return setup_error("/dev/holdbuf: %s", strerror(errno));
	if (ioctl(fd, request, &hold))
		return setup_error("%s: %s", name, strerror(errno));
	child = fork_idle_child();
	buf[0] = 0;
	if (ioctl(fd, HB_IOC_STAMP, &stamp))
		return setup_error("HB_IOC_STAMP: %s", strerror(errno));
	page0 = buf[0];
	page1 = buf[REPRO_PAGE / sizeof(uint32_t)];
	end_child(child);
	close(fd);
	if (page0 != stamp)
		return bug("%s, fork() and a parent write: HB_IOC_STAMP reached page 1 (%#x) but the "
			   "process's page 0 reads %#x: the device stamps the page the parent no longer maps",
			   name, page1, page0);
	return ok("%s, fork() and a parent write: the stamp %#x reached pages 0 and 1", name, page0);
}

static int hold_legacy_diverges_after_fork(void)
{
	return stamp_after_fork(HB_IOC_HOLD_LEGACY, "HB_IOC_HOLD_LEGACY");
}

static int hold_stays_coherent_after_fork(void)
{
	return stamp_after_fork(HB_IOC_HOLD, "HB_IOC_HOLD");
}

REPRO_SCENARIOS(
	{ "hold-legacy-diverges-after-fork", hold_legacy_diverges_after_fork },
	{ "hold-stays-coherent-after-fork", hold_stays_coherent_after_fork },
)

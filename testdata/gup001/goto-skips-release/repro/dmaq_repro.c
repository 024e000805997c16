/*
 * Repro of testdata/gup001/goto-skips-release: a 1 MiB transfer (256 pages) whose descriptor
 * table allocation (kmalloc_array(256, 16): 4 KiB; the page array is 2 KiB) is made to fail
 * with gupprobe. DMAQ_IOC_SUBMIT jumps past the unpin and returns with the 256 pages pinned;
 * DMAQ_IOC_SUBMIT_V2 unpins them on the same failure.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define XFER_BYTES	(256 * REPRO_PAGE)

struct dmaq_submit {
	uint64_t addr;
	uint64_t len;
	uint32_t flags;
	uint32_t status;
};

#define DMAQ_IOC_SUBMIT		_IOWR('q', 1, struct dmaq_submit)
#define DMAQ_IOC_SUBMIT_V2	_IOWR('q', 2, struct dmaq_submit)

/* Submits with the descriptor allocation failing; the FOLL_PIN pins left after close. */
static int submit_failing(unsigned long request, const char *name)
{
	struct dmaq_submit req = { .len = XFER_BYTES };
	struct gupprobe_status injected;
	uint8_t *buf = map_buffer(XFER_BYTES);
	long before, left, ret;
	int fd;

	fd = open("/dev/dmaq", O_RDWR);
	if (fd < 0 || !buf)
		return setup_error("/dev/dmaq: %s", strerror(errno));
	req.addr = (uintptr_t)buf;
	before = pins_held();
	if (fail_next_kmalloc(4096))
		return setup_error("gupprobe cannot inject a kmalloc failure: %s", strerror(errno));
	ret = ioctl(fd, request, &req) < 0 ? -errno : 0;
	close(fd);
	munmap(buf, XFER_BYTES);
	left = pins_held() - before;
	if (injection_status(&injected) || !injected.kmalloc_failed)
		return setup_error("%s returned %ld but the kmalloc failure was not injected", name, ret);
	if (left > 0)
		return bug("%s with the descriptor kmalloc failing returned %ld and left %ld FOLL_PIN pins "
			   "held after close (nr_foll_pin_acquired - nr_foll_pin_released)", name, ret, left);
	return ok("%s with the descriptor kmalloc failing returned %ld and left no FOLL_PIN pin", name, ret);
}

static int submit_desc_failure_leaks_pins(void)
{
	return submit_failing(DMAQ_IOC_SUBMIT, "DMAQ_IOC_SUBMIT");
}

static int submit_v2_desc_failure_unpins(void)
{
	return submit_failing(DMAQ_IOC_SUBMIT_V2, "DMAQ_IOC_SUBMIT_V2");
}

REPRO_SCENARIOS(
	{ "submit-desc-failure-leaks-pins", submit_desc_failure_leaks_pins },
	{ "submit-v2-desc-failure-unpins", submit_v2_desc_failure_unpins },
)

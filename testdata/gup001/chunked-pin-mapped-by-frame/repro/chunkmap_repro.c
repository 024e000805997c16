/*
 * Repro of testdata/gup001/chunked-pin-mapped-by-frame: a 6-page buffer mapped in chunks of 4.
 * After CM_IOC_MAP_GET (FOLL_GET references kept by frame number) a fork() and a write by the
 * parent give the parent a fresh copy of the page, and the device's frame is no longer the
 * process's page. After CM_IOC_MAP (FOLL_PIN | FOLL_LONGTERM) fork() copies the pinned pages
 * for the child and the parent keeps the mapped ones. A mapping whose second chunk fails (no
 * page at all) or comes back short (half of it unmapped) leaves no pin behind.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define CM_PAGES		6
#define CM_BYTES		(CM_PAGES * REPRO_PAGE)

struct cm_region {
	uint64_t addr;
	uint32_t nr_pages;
	uint32_t pad;
};

#define CM_IOC_MAP		_IOW('k', 1, struct cm_region)
#define CM_IOC_MAP_GET		_IOW('k', 2, struct cm_region)
#define CM_IOC_UNMAP		_IO('k', 3)

static int map_then_fork(unsigned long request, const char *name)
{
	uint8_t *buf = map_buffer(CM_BYTES);
	struct cm_region region = { .addr = (uintptr_t)buf, .nr_pages = CM_PAGES };

	if (!buf)
		return setup_error("mmap: %s", strerror(errno));
	/* the last page: it came from the second chunk */
	return request_then_fork("/dev/chunkmap", request, name, &region, buf + (CM_PAGES - 1) * REPRO_PAGE);
}

static int map_get_diverges_after_fork(void)
{
	return map_then_fork(CM_IOC_MAP_GET, "CM_IOC_MAP_GET");
}

static int map_longterm_stays_coherent_after_fork(void)
{
	return map_then_fork(CM_IOC_MAP, "CM_IOC_MAP");
}

/* CM_IOC_MAP over 6 pages of which the last `unmapped` are gone; returns the pins left after. */
static long failed_map_leftover(unsigned int unmapped, long *ret, int *err)
{
	uint8_t *buf = map_buffer(CM_BYTES);
	struct cm_region region = { .addr = (uintptr_t)buf, .nr_pages = CM_PAGES };
	int fd = open("/dev/chunkmap", O_RDWR);
	long before;

	if (fd < 0 || !buf)
		return LONG_MIN;
	munmap(buf + (CM_PAGES - unmapped) * REPRO_PAGE, unmapped * REPRO_PAGE);
	before = pins_held();
	*ret = ioctl(fd, CM_IOC_MAP, &region);
	*err = errno;
	/* still open: a pin left now is one the failed ioctl should have dropped */
	before = pins_held() - before;
	close(fd);
	return before;
}

static int failed_chunk_leaves_no_pin(void)
{
	long failed_ret, short_ret, failed_left, short_left;
	int failed_err, short_err;

	failed_left = failed_map_leftover(2, &failed_ret, &failed_err);	/* chunk 2: nothing pinned */
	short_left = failed_map_leftover(1, &short_ret, &short_err);	/* chunk 2: 1 of 2 pinned */
	if (failed_left == LONG_MIN || short_left == LONG_MIN)
		return setup_error("/dev/chunkmap or /proc/vmstat: %s", strerror(errno));
	if (failed_ret == 0 || short_ret == 0)
		return setup_error("CM_IOC_MAP over a partly unmapped buffer succeeded");
	if (failed_left || short_left)
		return bug("CM_IOC_MAP failed (%s, %s) with %ld and %ld FOLL_PIN pins still held",
			   strerror(failed_err), strerror(short_err), failed_left, short_left);
	return ok("CM_IOC_MAP with a failed second chunk (%s) and a short one (%s) left no pin held",
		  strerror(failed_err), strerror(short_err));
}

REPRO_SCENARIOS(
	{ "map-get-diverges-after-fork", map_get_diverges_after_fork },
	{ "map-longterm-stays-coherent-after-fork", map_longterm_stays_coherent_after_fork },
	{ "failed-chunk-leaves-no-pin", failed_chunk_leaves_no_pin },
)

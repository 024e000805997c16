/*
 * Repro of testdata/gup001/chunked-partial-pin: a 16-page request whose pages 2..15 are not
 * mapped makes the first chunk short (pin_user_pages_fast() returns 2). PH_IOC_HASH returns
 * with those 2 pages pinned for good; PH_IOC_HASH_SAFE unpins them; PH_IOC_ZERO (FOLL_GET)
 * puts them.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define PH_CHUNK	16

struct ph_req {
	uint64_t addr;
	uint64_t nr_pages;
	uint64_t hash;
};

#define PH_IOC_HASH		_IOWR('h', 1, struct ph_req)
#define PH_IOC_HASH_SAFE	_IOWR('h', 2, struct ph_req)
#define PH_IOC_ZERO		_IOW('h', 3, struct ph_req)

/* PH_CHUNK pages of which only the first two are mapped. */
static uint8_t *short_buffer(void)
{
	uint8_t *buf = map_buffer(PH_CHUNK * REPRO_PAGE);

	if (buf)
		munmap(buf + 2 * REPRO_PAGE, (PH_CHUNK - 2) * REPRO_PAGE);
	return buf;
}

/* Runs one request on a short chunk; the FOLL_PIN pins it left behind once the file is closed. */
static int pins_left_by(unsigned long request, long *left, long *ret)
{
	struct ph_req req = { .nr_pages = PH_CHUNK };
	uint8_t *buf = short_buffer();
	long before;
	int fd;

	fd = open("/dev/pagehash", O_RDWR);
	if (fd < 0 || !buf)
		return -1;
	req.addr = (uintptr_t)buf;
	before = pins_held();
	*ret = ioctl(fd, request, &req) < 0 ? -errno : 0;
	close(fd);
	munmap(buf, 2 * REPRO_PAGE);
	*left = pins_held() - before;
	return 0;
}

static int hash_partial_chunk_leaks_pins(void)
{
	long left, ret;

	if (pins_left_by(PH_IOC_HASH, &left, &ret))
		return setup_error("/dev/pagehash: %s", strerror(errno));
	if (left > 0)
		return bug("PH_IOC_HASH on a 16-page range with 2 pages mapped returned %ld and left %ld "
			   "FOLL_PIN pins held after close (nr_foll_pin_acquired - nr_foll_pin_released)",
			   ret, left);
	return ok("PH_IOC_HASH returned %ld and left no pin (%ld)", ret, left);
}

static int hash_safe_unpins_partial_chunk(void)
{
	long left, ret;

	if (pins_left_by(PH_IOC_HASH_SAFE, &left, &ret))
		return setup_error("/dev/pagehash: %s", strerror(errno));
	if (left != 0)
		return bug("PH_IOC_HASH_SAFE returned %ld and left %ld FOLL_PIN pins held", ret, left);
	return ok("PH_IOC_HASH_SAFE on the short chunk returned %ld and left no FOLL_PIN pin", ret);
}

static int zero_puts_partial_chunk(void)
{
	struct ph_req req = { .nr_pages = PH_CHUNK };
	struct gupprobe_page before[2], after[2];
	uint8_t *buf = short_buffer();
	long ret;
	int fd, i;

	fd = open("/dev/pagehash", O_RDWR);
	if (fd < 0 || !buf)
		return setup_error("/dev/pagehash: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		if (page_info(buf + i * REPRO_PAGE, &before[i]))
			return setup_error("gupprobe: %s", strerror(errno));
	}
	req.addr = (uintptr_t)buf;
	ret = ioctl(fd, PH_IOC_ZERO, &req) < 0 ? -errno : 0;
	close(fd);
	for (i = 0; i < 2; i++) {
		if (page_info(buf + i * REPRO_PAGE, &after[i]))
			return setup_error("gupprobe: %s", strerror(errno));
		if (after[i].refcount != before[i].refcount)
			return bug("PH_IOC_ZERO returned %ld and left page %d with %u references (%u before)",
				   ret, i, after[i].refcount, before[i].refcount);
	}
	return ok("PH_IOC_ZERO on the short chunk returned %ld; both mapped pages are back to %u "
		  "and %u references", ret, after[0].refcount, after[1].refcount);
}

REPRO_SCENARIOS(
	{ "hash-partial-chunk-leaks-pins", hash_partial_chunk_leaks_pins },
	{ "hash-safe-unpins-partial-chunk", hash_safe_unpins_partial_chunk },
	{ "zero-puts-partial-chunk", zero_puts_partial_chunk },
)

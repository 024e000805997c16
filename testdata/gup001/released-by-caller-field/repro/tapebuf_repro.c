/*
 * Repro of testdata/gup001/released-by-caller-field: read() and write() on /dev/tapebuf pin a
 * two-page user buffer through the same helper. After write() returns, with the file still
 * open, the pages are still pinned (FOLL_PIN without FOLL_LONGTERM, held until the next read or
 * close); after read() returns nothing is left pinned.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define TB_BYTES	(2 * REPRO_PAGE)

static int pins_after(int write_call, const char *name)
{
	uint8_t *buf = map_buffer(TB_BYTES);
	long before, left;
	ssize_t done;
	int fd = open("/dev/tapebuf", O_RDWR);

	if (fd < 0 || !buf)
		return setup_error("/dev/tapebuf: %s", strerror(errno));
	memset(buf, 0x3c, TB_BYTES);
	before = pins_held();
	done = write_call ? write(fd, buf, TB_BYTES) : read(fd, buf, TB_BYTES);
	left = pins_held() - before;	/* the file is still open */
	close(fd);
	munmap(buf, TB_BYTES);
	if (done != TB_BYTES)
		return setup_error("%s of %d bytes returned %zd (%s)", name, TB_BYTES, done, strerror(errno));
	if (left > 0)
		return bug("%s returned with %ld FOLL_PIN pins still held on the caller's buffer "
			   "(nr_foll_pin_acquired - nr_foll_pin_released, file still open)", name, left);
	return ok("%s returned with no FOLL_PIN pin held on the caller's buffer", name);
}

static int write_returns_with_pages_pinned(void)
{
	return pins_after(1, "write()");
}

static int read_returns_with_nothing_pinned(void)
{
	return pins_after(0, "read()");
}

REPRO_SCENARIOS(
	{ "write-returns-with-pages-pinned", write_returns_with_pages_pinned },
	{ "read-returns-with-nothing-pinned", read_returns_with_nothing_pinned },
)

/*
 * Repro of testdata/gup005/driver-idioms. PORTIO_IOC_PEEK takes its count from the low 16 bits
 * of the argument, which is also the user pointer: a buffer whose address ends in 0x0080 asks
 * for 128 bytes of the 64-byte FIFO. The kernel's check_copy_size() knows the FIFO's size and
 * refuses with a warning; without that hardening the 64 bytes after it would reach user space.
 * The other paths clamp their lengths.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define FIFO_SIZE	64
#define PORTIO_IOC_DRAIN	_IOR('p', 1, uint64_t)
#define PORTIO_IOC_PEEK		_IOR('p', 2, uint64_t)
#define PORTIO_IOC_EMIT		_IOR('p', 3, uint64_t)
#define MARKER	0xee

static int peek_copies_past_fifo(void)
{
	uint8_t *area = map_buffer(0x20000);
	int fd = open("/dev/portio", O_RDWR);
	char warning[300];
	uint8_t *buf;
	int changed = 0, i;
	long ret;

	if (fd < 0 || !area)
		return setup_error("/dev/portio: %s", strerror(errno));
	buf = (uint8_t *)((((uintptr_t)area + 0xffff) & ~(uintptr_t)0xffff) + 2 * FIFO_SIZE);
	memset(buf, MARKER, 4 * FIFO_SIZE);
	ret = ioctl(fd, PORTIO_IOC_PEEK, buf);
	close(fd);
	for (i = FIFO_SIZE; i < 2 * FIFO_SIZE; i++)
		changed += buf[i] != MARKER;
	if (kernel_log_find("Buffer overflow detected", warning, sizeof(warning)))
		return bug("PORTIO_IOC_PEEK at %p asked for 128 bytes of the %d-byte FIFO; the kernel's "
			   "check_copy_size() caught the overflow: %s", (void *)buf, FIFO_SIZE, warning);
	if (ret > FIFO_SIZE)
		return bug("PORTIO_IOC_PEEK at %p copied %ld bytes out of the %d-byte FIFO: %d of the %d "
			   "bytes past it are kernel memory now in user space",
			   (void *)buf, ret, FIFO_SIZE, changed, FIFO_SIZE);
	return ok("PORTIO_IOC_PEEK returned %ld", ret);
}

static int read_cursor_stays_in_checked_range(void)
{
	uint8_t buf[256];
	int fd = open("/dev/portio", O_RDWR);
	ssize_t n;

	if (fd < 0)
		return setup_error("/dev/portio: %s", strerror(errno));
	memset(buf, MARKER, sizeof(buf));
	n = read(fd, buf, 100);
	close(fd);
	if (n != 100 || buf[100] != MARKER)
		return bug("read(100) returned %zd and wrote past the 100 bytes asked for", n);
	return ok("read(100) returned 100 bytes through the checked cursor and nothing past them");
}

static int drain_is_clamped(void)
{
	uint8_t fill[FIFO_SIZE] = { 1 }, *buf = map_buffer(2 * REPRO_PAGE);
	int fd = open("/dev/portio", O_RDWR);
	long ret;

	if (fd < 0 || !buf)
		return setup_error("/dev/portio: %s", strerror(errno));
	if (write(fd, fill, sizeof(fill)) < 0)
		return setup_error("write: %s", strerror(errno));
	ret = ioctl(fd, PORTIO_IOC_DRAIN, buf);
	close(fd);
	if (ret < 0 || ret > FIFO_SIZE)
		return bug("PORTIO_IOC_DRAIN returned %ld", ret);
	return ok("PORTIO_IOC_DRAIN returned %ld bytes, no more than the FIFO holds", ret);
}

static int write_is_clamped(void)
{
	uint8_t buf[1000];
	int fd = open("/dev/portio", O_RDWR);
	ssize_t n;

	if (fd < 0)
		return setup_error("/dev/portio: %s", strerror(errno));
	memset(buf, 7, sizeof(buf));
	n = write(fd, buf, sizeof(buf));
	close(fd);
	if (n != FIFO_SIZE)
		return bug("write(1000) returned %zd", n);
	return ok("write(1000) took %zd bytes: both copies are clamped to the FIFO", n);
}

static int emit_writes_through_checked_pointer(void)
{
	uint8_t buf[16];
	int fd = open("/dev/portio", O_RDWR);
	long ret;

	if (fd < 0)
		return setup_error("/dev/portio: %s", strerror(errno));
	memset(buf, MARKER, sizeof(buf));
	ret = ioctl(fd, PORTIO_IOC_EMIT, buf) < 0 ? -errno : 0;
	close(fd);
	if (ret)
		return bug("PORTIO_IOC_EMIT returned %ld for a valid buffer", ret);
	return ok("PORTIO_IOC_EMIT wrote its header through the pointer copy_to_user() checked");
}

REPRO_SCENARIOS(
	{ "peek-copies-past-fifo", peek_copies_past_fifo },
	{ "read-cursor-stays-in-checked-range", read_cursor_stays_in_checked_range },
	{ "drain-is-clamped", drain_is_clamped },
	{ "write-is-clamped", write_is_clamped },
	{ "emit-writes-through-checked-pointer", emit_writes_through_checked_pointer },
)

/*
 * Repro of testdata/gup003/heap-with-and-without-dontfork: a buffer is registered
 * (CR_IOC_REGISTER keeps FOLL_GET references), a logger child is forked and exits, the parent
 * writes the first byte (0xee here; the app writes 1, which is also the first sequence number),
 * and the device captures (CR_IOC_CAPTURE fills every registered page with its sequence number):
 *   A (malloc, no madvise)               the parent's page was copied: the capture is lost;
 *   B (posix_memalign + MADV_DONTFORK)   never shared with the child: the capture arrives;
 *   C (the device's own MAP_SHARED map)  shared, not copied: the capture arrives.
 */
#include <stdio.h>

#include "gupcheck_repro.h"
#include "capring_uapi.h"

#define BUF_BYTES	(64 * 1024)

static int capture_after_fork(uint8_t *buf, int fd, uint32_t slot, const char *what)
{
	struct cr_region r = { .addr = (uintptr_t)buf, .len = BUF_BYTES, .slot = slot };
	uint8_t first, last;
	pid_t child;

	if (ioctl(fd, CR_IOC_REGISTER, &r) < 0)
		return setup_error("CR_IOC_REGISTER %s: %s", what, strerror(errno));
	child = fork();
	if (child == 0)
		_exit(0);
	if (child < 0 || waitpid(child, NULL, 0) != child)
		return setup_error("fork: %s", strerror(errno));
	buf[0] = 0xee;
	if (ioctl(fd, CR_IOC_CAPTURE, 0) < 0)
		return setup_error("CR_IOC_CAPTURE: %s", strerror(errno));
	first = buf[0];
	last = buf[BUF_BYTES - 1];
	close(fd);
	if (first != last)
		return bug("%s: after fork() and a write by the parent, CR_IOC_CAPTURE wrote %#x into the "
			   "pages the driver kept, but the parent's first page still holds its own %#x",
			   what, last, first);
	return ok("%s: after fork() and a parent write the capture (%#x) reached every page", what, first);
}

static int heap_misses_captures_after_fork(void)
{
	int fd = open("/dev/capring", O_RDWR);
	uint8_t *a = malloc(BUF_BYTES);

	if (fd < 0 || !a)
		return setup_error("/dev/capring: %s", strerror(errno));
	memset(a, 0, BUF_BYTES);
	return capture_after_fork(a, fd, 0, "malloc'd buffer A");
}

static int dontfork_heap_keeps_captures(void)
{
	int fd = open("/dev/capring", O_RDWR);
	void *b = NULL;

	if (fd < 0 || posix_memalign(&b, 4096, BUF_BYTES))
		return setup_error("/dev/capring: %s", strerror(errno));
	if (madvise(b, BUF_BYTES, MADV_DONTFORK))
		return setup_error("madvise: %s", strerror(errno));
	memset(b, 0, BUF_BYTES);
	return capture_after_fork(b, fd, 1, "MADV_DONTFORK buffer B");
}

static int device_mapping_keeps_captures(void)
{
	int fd = open("/dev/capring", O_RDWR);
	uint8_t *c;

	if (fd < 0)
		return setup_error("/dev/capring: %s", strerror(errno));
	c = mmap(NULL, CR_RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED)
		return setup_error("mmap: %s", strerror(errno));
	return capture_after_fork(c, fd, 2, "device mapping C");
}

REPRO_SCENARIOS(
	{ "heap-misses-captures-after-fork", heap_misses_captures_after_fork },
	{ "dontfork-heap-keeps-captures", dontfork_heap_keeps_captures },
	{ "device-mapping-keeps-captures", device_mapping_keeps_captures },
)

/*
 * Repro of testdata/gup002/stack-array-via-field. A stack array registered through the .addr
 * field of struct rr_region stays pinned (FOLL_LONGTERM) after its function returned; the
 * device's RR_IOC_KICK then fills the pinned pages, which are now part of a later frame
 * (victim()'s local array). RR_IOC_FILL_ONCE unpins before returning; a heap ring in a
 * process that does not fork sees every KICK.
 */
#include <stdio.h>

#include "gupcheck_repro.h"
#include "ringreg_uapi.h"

#define RING_BYTES	8192
#define VICTIM_BYTES	(24 * 1024)

static uintptr_t registered_at;

/* As register_stack_ring() in ringreg_app.c; page-aligned so KICK fills only the ring's pages. */
static __attribute__((noinline)) int register_stack_ring(int fd)
{
	char ring[RING_BYTES] __attribute__((aligned(4096)));
	struct rr_region r = { .addr = (uintptr_t)ring, .len = sizeof(ring) };

	memset(ring, 0, sizeof(ring));
	if (ioctl(fd, RR_IOC_REGISTER, &r) < 0)
		return -1;
	registered_at = (uintptr_t)ring;
	return 0;
}

/*
 * As fill_stack_once(), with a whole page: the driver fills every page it pinned entirely, so
 * the app's 256-byte array would take the rest of its stack page (canary and return address)
 * with it.
 */
static __attribute__((noinline)) int fill_stack_once(int fd)
{
	char tmp[4096] __attribute__((aligned(4096)));
	struct rr_region f = { .addr = (uintptr_t)tmp, .len = sizeof(tmp), .fill = 0x5a };

	if (ioctl(fd, RR_IOC_FILL_ONCE, &f) < 0)
		return -1;
	registered_at = (uintptr_t)tmp;
	return (unsigned char)tmp[0] == 0x5a ? 0 : -1;
}

/* A later frame over the same stack memory; counts the bytes the device's KICK changes in it. */
static __attribute__((noinline)) int victim(int fd, uintptr_t old, size_t len, uintptr_t *where)
{
	volatile uint8_t area[VICTIM_BYTES];
	int changed = 0;
	size_t i;

	for (i = 0; i < sizeof(area); i++)
		area[i] = 0x3c;
	if (old < (uintptr_t)area || old + len > (uintptr_t)area + sizeof(area))
		return -1;
	ioctl(fd, RR_IOC_KICK, 0);
	for (i = 0; i < sizeof(area); i++) {
		if (area[i] != 0x3c) {
			if (!changed)
				*where = (uintptr_t)&area[i];
			changed++;
		}
	}
	return changed;
}

static int register_stack_clobbers_later_frame(void)
{
	int fd = open("/dev/ringreg", O_RDWR);
	uintptr_t where = 0;
	int changed;

	if (fd < 0)
		return setup_error("/dev/ringreg: %s", strerror(errno));
	if (register_stack_ring(fd))
		return setup_error("RR_IOC_REGISTER: %s", strerror(errno));
	changed = victim(fd, registered_at, RING_BYTES, &where);
	ioctl(fd, RR_IOC_UNREGISTER, 0);
	close(fd);
	if (changed < 0)
		return setup_error("stack layout: the returned ring %#lx is not inside victim()'s frame",
				   (unsigned long)registered_at);
	if (changed)
		return bug("after register_stack_ring() returned, the device's RR_IOC_KICK filled %d bytes "
			   "of victim()'s local array from %#lx: the pinned stack pages belong to a later frame",
			   changed, (unsigned long)where);
	return ok("RR_IOC_KICK changed nothing in the frame over the registered ring's stack memory");
}

static int fill_once_stack_keeps_no_pin(void)
{
	int fd = open("/dev/ringreg", O_RDWR);
	uintptr_t where = 0;
	long pins = pins_held();
	int changed;

	if (fd < 0)
		return setup_error("/dev/ringreg: %s", strerror(errno));
	if (fill_stack_once(fd))
		return setup_error("RR_IOC_FILL_ONCE: %s", strerror(errno));
	pins = pins_held() - pins;
	changed = victim(fd, registered_at, 4096, &where);
	close(fd);
	if (pins)
		return bug("RR_IOC_FILL_ONCE left %ld FOLL_PIN pins held", pins);
	if (changed > 0)
		return bug("a later frame over the filled stack array changed (%d bytes)", changed);
	return ok("RR_IOC_FILL_ONCE filled the stack array during the call and left no pin");
}

static int register_heap_without_fork_stays_coherent(void)
{
	uint8_t *ring = map_buffer(RING_BYTES);
	struct rr_region h = { .addr = (uintptr_t)ring, .len = RING_BYTES };
	int fd = open("/dev/ringreg", O_RDWR);
	uint8_t first, second;

	if (fd < 0 || !ring)
		return setup_error("/dev/ringreg: %s", strerror(errno));
	if (ioctl(fd, RR_IOC_REGISTER, &h) < 0 || ioctl(fd, RR_IOC_KICK, 0) < 0)
		return setup_error("RR_IOC_REGISTER/KICK: %s", strerror(errno));
	first = ring[0];
	ring[0] = 0;
	ioctl(fd, RR_IOC_KICK, 0);
	second = ring[RING_BYTES - 1];
	ioctl(fd, RR_IOC_UNREGISTER, 0);
	close(fd);
	if (second != (uint8_t)(first + 1))
		return bug("the heap ring missed a KICK: %u after %u", second, first);
	return ok("without fork() every KICK reaches the heap ring (byte %u, then %u)", first, second);
}

REPRO_SCENARIOS(
	{ "register-stack-clobbers-later-frame", register_stack_clobbers_later_frame },
	{ "fill-once-stack-keeps-no-pin", fill_once_stack_keeps_no_pin },
	{ "register-heap-without-fork-stays-coherent", register_heap_without_fork_stays_coherent },
)

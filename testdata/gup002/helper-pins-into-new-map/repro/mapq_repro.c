/*
 * Repro of testdata/gup002/helper-pins-into-new-map. A stack array attached with
 * MAPQ_IOC_ATTACH stays pinned after its function returned; MAPQ_IOC_TICK then writes into
 * the pinned pages, which now belong to a later frame (victim()'s local array).
 * MAPQ_IOC_POKE_ONCE is done with its stack array before returning; heap memory attached the
 * same way sees every tick.
 */
#include <stdio.h>

#include "gupcheck_repro.h"
#include "mapq_uapi.h"

#define SCRATCH_BYTES	8192
#define VICTIM_BYTES	(24 * 1024)

static uintptr_t attached_at;

/* As attach_scratch() in mapq_app.c. */
static __attribute__((noinline)) int attach_scratch(int fd)
{
	char scratch[SCRATCH_BYTES] __attribute__((aligned(4096)));
	struct mapq_buf buf = { .uaddr = (uintptr_t)scratch, .bytes = sizeof(scratch) };

	memset(scratch, 0, sizeof(scratch));
	if (ioctl(fd, MAPQ_IOC_ATTACH, &buf) < 0)
		return -1;
	attached_at = (uintptr_t)scratch;
	return 0;
}

/* As poke_scratch(): the driver writes the whole page, so the array is one page. */
static __attribute__((noinline)) int poke_scratch(int fd)
{
	char scratch[4096] __attribute__((aligned(4096)));
	struct mapq_buf buf = { .uaddr = (uintptr_t)scratch, .bytes = sizeof(scratch), .value = 0x5a };

	if (ioctl(fd, MAPQ_IOC_POKE_ONCE, &buf) < 0)
		return -1;
	attached_at = (uintptr_t)scratch;
	return (unsigned char)scratch[0] == 0x5a ? 0 : -1;
}

/* A later frame over the same stack memory; counts the bytes a TICK changes in it. */
static __attribute__((noinline)) int victim(int fd, uintptr_t old, size_t len, uintptr_t *where)
{
	volatile uint8_t area[VICTIM_BYTES];
	int changed = 0;
	size_t i;

	for (i = 0; i < sizeof(area); i++)
		area[i] = 0x3c;
	if (old < (uintptr_t)area || old + len > (uintptr_t)area + sizeof(area))
		return -1;
	ioctl(fd, MAPQ_IOC_TICK, 0);
	for (i = 0; i < sizeof(area); i++) {
		if (area[i] != 0x3c) {
			if (!changed)
				*where = (uintptr_t)&area[i];
			changed++;
		}
	}
	return changed;
}

static int attach_stack_clobbers_later_frame(void)
{
	int fd = open("/dev/mapq", O_RDWR);
	uintptr_t where = 0;
	int changed;

	if (fd < 0)
		return setup_error("/dev/mapq: %s", strerror(errno));
	if (attach_scratch(fd))
		return setup_error("MAPQ_IOC_ATTACH: %s", strerror(errno));
	changed = victim(fd, attached_at, SCRATCH_BYTES, &where);
	ioctl(fd, MAPQ_IOC_DETACH_ALL, 0);
	close(fd);
	if (changed < 0)
		return setup_error("stack layout: the returned array %#lx is not inside victim()'s frame",
				   (unsigned long)attached_at);
	if (changed)
		return bug("after attach_scratch() returned, the device's MAPQ_IOC_TICK changed %d bytes of "
			   "victim()'s local array from %#lx: the pinned stack pages belong to a later frame",
			   changed, (unsigned long)where);
	return ok("MAPQ_IOC_TICK changed nothing in the frame over the attached array's stack memory");
}

static int poke_once_stack_keeps_no_pin(void)
{
	int fd = open("/dev/mapq", O_RDWR);
	uintptr_t where = 0;
	long pins = pins_held();
	int changed;

	if (fd < 0)
		return setup_error("/dev/mapq: %s", strerror(errno));
	if (poke_scratch(fd))
		return setup_error("MAPQ_IOC_POKE_ONCE: %s", strerror(errno));
	pins = pins_held() - pins;
	changed = victim(fd, attached_at, 4096, &where);
	close(fd);
	if (pins)
		return bug("MAPQ_IOC_POKE_ONCE left %ld FOLL_PIN pins held", pins);
	if (changed > 0)
		return bug("a later frame over the poked stack array changed (%d bytes)", changed);
	return ok("MAPQ_IOC_POKE_ONCE wrote the stack array during the call and left no pin");
}

static int attach_heap_sees_every_tick(void)
{
	uint8_t *mem = map_buffer(SCRATCH_BYTES);
	struct mapq_buf buf = { .uaddr = (uintptr_t)mem, .bytes = SCRATCH_BYTES };
	int fd = open("/dev/mapq", O_RDWR);
	uint8_t first, second;

	if (fd < 0 || !mem)
		return setup_error("/dev/mapq: %s", strerror(errno));
	if (ioctl(fd, MAPQ_IOC_ATTACH, &buf) < 0 || ioctl(fd, MAPQ_IOC_TICK, 0) < 0)
		return setup_error("MAPQ_IOC_ATTACH/TICK: %s", strerror(errno));
	first = mem[0];
	mem[0] = 0;
	ioctl(fd, MAPQ_IOC_TICK, 0);
	second = mem[SCRATCH_BYTES - 1];
	ioctl(fd, MAPQ_IOC_DETACH_ALL, 0);
	close(fd);
	if (second != (uint8_t)(first + 1))
		return bug("the attached heap buffer missed a tick: %u after %u", second, first);
	return ok("every MAPQ_IOC_TICK reaches the attached heap buffer (byte %u, then %u)", first, second);
}

REPRO_SCENARIOS(
	{ "attach-stack-clobbers-later-frame", attach_stack_clobbers_later_frame },
	{ "poke-once-stack-keeps-no-pin", poke_once_stack_keeps_no_pin },
	{ "attach-heap-sees-every-tick", attach_heap_sees_every_tick },
)

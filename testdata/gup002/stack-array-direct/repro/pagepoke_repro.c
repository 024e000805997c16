/*
 * Repro of testdata/gup002/stack-array-direct.
 *   GUP002: a stack array attached as the mailbox (PP_IOC_ATTACH keeps a reference on its
 *   page); once the function has returned, the device's PP_IOC_TICK writes into whatever
 *   frame uses that stack memory now: victim()'s local array changes under it.
 *   GUP001: a heap mailbox attached, then fork() and a parent write: TICK stamps the old page.
 *   Look-alikes: PP_IOC_POKE drops its reference before returning; a heap mailbox in a
 *   process that does not fork sees every TICK.
 */
#include <stdio.h>

#include "gupcheck_repro.h"
#include "pagepoke_uapi.h"

#define VICTIM_BYTES	(16 * 1024)

static uintptr_t attached_at;

/* As attach_scratch_mailbox() in pagepoke_app.c: the mailbox lives in this frame. */
static __attribute__((noinline)) int attach_stack_mailbox(int fd)
{
	char buf[4096];

	memset(buf, 0, sizeof(buf));
	if (ioctl(fd, PP_IOC_ATTACH, buf) < 0)
		return -1;
	attached_at = (uintptr_t)buf;
	return 0;
}

/* As poke_once(): POKE pins the stack array only during the call. */
static __attribute__((noinline)) int poke_stack_once(int fd, struct gupprobe_page *before,
						    struct gupprobe_page *after)
{
	char tmp[64];

	memset(tmp, 0, sizeof(tmp));
	if (page_info(tmp, before) || ioctl(fd, PP_IOC_POKE, tmp) < 0 || page_info(tmp, after))
		return -1;
	attached_at = (uintptr_t)tmp;
	return 0;
}

/*
 * A later frame over the same stack memory: fills a large local array, lets the device write
 * (PP_IOC_TICK), and counts the bytes that changed. -1 when the old mailbox is not inside.
 */
static __attribute__((noinline)) int victim(int fd, uintptr_t old, uintptr_t *where)
{
	volatile uint8_t area[VICTIM_BYTES];
	int changed = 0;
	size_t i;

	for (i = 0; i < sizeof(area); i++)
		area[i] = 0x3c;
	if (old < (uintptr_t)area || old + 4 > (uintptr_t)area + sizeof(area))
		return -1;
	ioctl(fd, PP_IOC_TICK, 0);
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
	int fd = open("/dev/pagepoke", O_RDWR);
	uintptr_t where = 0;
	int changed;

	if (fd < 0)
		return setup_error("/dev/pagepoke: %s", strerror(errno));
	if (attach_stack_mailbox(fd))
		return setup_error("PP_IOC_ATTACH: %s", strerror(errno));
	changed = victim(fd, attached_at, &where);
	ioctl(fd, PP_IOC_DETACH, 0);
	close(fd);
	if (changed < 0)
		return setup_error("stack layout: the returned mailbox %#lx is not inside victim()'s frame",
				   (unsigned long)attached_at);
	if (changed)
		return bug("after attach_stack_mailbox() returned, the device's PP_IOC_TICK wrote %d bytes "
			   "into victim()'s local array at %#lx (where the attached stack mailbox was)",
			   changed, (unsigned long)where);
	return ok("PP_IOC_TICK changed nothing in the frame that reused the mailbox's stack memory");
}

static int poke_stack_keeps_no_reference(void)
{
	struct gupprobe_page before, after;
	int fd = open("/dev/pagepoke", O_RDWR);
	uintptr_t where = 0;
	int changed;

	if (fd < 0)
		return setup_error("/dev/pagepoke: %s", strerror(errno));
	if (poke_stack_once(fd, &before, &after))
		return setup_error("PP_IOC_POKE: %s", strerror(errno));
	changed = victim(fd, attached_at, &where);
	close(fd);
	if (after.refcount != before.refcount)
		return bug("PP_IOC_POKE left the stack page with %u references (%u before)",
			   after.refcount, before.refcount);
	if (changed != 0)
		return bug("a later frame over the poked stack memory changed (%d bytes)", changed);
	return ok("PP_IOC_POKE left the stack page at %u reference(s) and nothing writes into the "
		  "frame that reuses it", after.refcount);
}

static int attach_heap_diverges_after_fork(void)
{
	uint32_t *mbox = map_buffer(REPRO_PAGE);
	uint32_t seen, shared;
	int fd = open("/dev/pagepoke", O_RDWR);
	pid_t child;

	if (fd < 0 || !mbox)
		return setup_error("/dev/pagepoke: %s", strerror(errno));
	if (ioctl(fd, PP_IOC_ATTACH, mbox) < 0 || ioctl(fd, PP_IOC_TICK, 0) < 0)
		return setup_error("PP_IOC_ATTACH/TICK: %s", strerror(errno));
	shared = mbox[0];
	child = fork_idle_child();
	mbox[0] = 0;
	ioctl(fd, PP_IOC_TICK, 0);
	seen = mbox[0];
	end_child(child);
	ioctl(fd, PP_IOC_DETACH, 0);
	close(fd);
	if (seen != shared + 1)
		return bug("before fork() TICK reached the mailbox (seq %u); after fork() and a parent write "
			   "the next TICK (seq %u) never arrived: the process reads %u",
			   shared, shared + 1, seen);
	return ok("after fork() and a parent write TICK still reached the mailbox (seq %u)", seen);
}

static int attach_heap_without_fork_stays_coherent(void)
{
	uint32_t *mbox = map_buffer(REPRO_PAGE);
	int fd = open("/dev/pagepoke", O_RDWR);
	uint32_t first, second;

	if (fd < 0 || !mbox)
		return setup_error("/dev/pagepoke: %s", strerror(errno));
	if (ioctl(fd, PP_IOC_ATTACH, mbox) < 0 || ioctl(fd, PP_IOC_TICK, 0) < 0)
		return setup_error("PP_IOC_ATTACH/TICK: %s", strerror(errno));
	first = mbox[0];
	mbox[0] = 0;
	ioctl(fd, PP_IOC_TICK, 0);
	second = mbox[0];
	ioctl(fd, PP_IOC_DETACH, 0);
	close(fd);
	if (second != first + 1)
		return bug("the heap mailbox missed a TICK: %u after %u", second, first);
	return ok("without fork() every TICK reaches the heap mailbox (seq %u, then %u)", first, second);
}

REPRO_SCENARIOS(
	{ "attach-stack-clobbers-later-frame", attach_stack_clobbers_later_frame },
	{ "attach-heap-diverges-after-fork", attach_heap_diverges_after_fork },
	{ "poke-stack-keeps-no-reference", poke_stack_keeps_no_reference },
	{ "attach-heap-without-fork-stays-coherent", attach_heap_without_fork_stays_coherent },
)

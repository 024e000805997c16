/*
 * Repro of testdata/gup001/mmu-notifier-mirror: MIRROR_IOC_DEBUG_KEEP keeps a FOLL_GET
 * reference in a global; after fork() and a write by the parent, the kept page (read through
 * gupprobe) is not the process's any more. MIRROR_IOC_SYNC and MIRROR_IOC_PEEK_WORD pin only
 * while they copy, and the mirror follows the process's memory through its notifier.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct mirror_range {
	uint64_t addr;
	uint64_t len;
};

struct mirror_word {
	uint64_t offset;
	uint64_t value;
};

#define MIRROR_IOC_REGISTER	_IOW('m', 1, struct mirror_range)
#define MIRROR_IOC_SYNC		_IO('m', 2)
#define MIRROR_IOC_READ_WORD	_IOWR('m', 3, struct mirror_word)
#define MIRROR_IOC_PEEK_WORD	_IOWR('m', 4, struct mirror_word)
#define MIRROR_IOC_DEBUG_KEEP	_IOW('m', 5, uint64_t)

static int debug_keep_diverges_after_fork(void)
{
	uint8_t *buf = map_buffer(REPRO_PAGE);
	uint64_t addr = (uintptr_t)buf;

	return request_then_fork("/dev/mirrordev", MIRROR_IOC_DEBUG_KEEP, "MIRROR_IOC_DEBUG_KEEP", &addr, buf);
}

static int sync_and_peek_keep_no_pin(void)
{
	uint64_t *buf = map_buffer(2 * REPRO_PAGE);
	struct mirror_range range = { .addr = (uintptr_t)buf, .len = 2 * REPRO_PAGE };
	struct mirror_word word = { .offset = 8 };
	int fd = open("/dev/mirrordev", O_RDWR);
	long pins;
	pid_t child;

	if (fd < 0 || !buf)
		return setup_error("/dev/mirrordev: %s", strerror(errno));
	buf[1] = 0x1111;
	if (ioctl(fd, MIRROR_IOC_REGISTER, &range))
		return setup_error("MIRROR_IOC_REGISTER: %s", strerror(errno));
	pins = pins_held();
	if (ioctl(fd, MIRROR_IOC_SYNC) || ioctl(fd, MIRROR_IOC_PEEK_WORD, &word))
		return setup_error("MIRROR_IOC_SYNC/PEEK_WORD: %s", strerror(errno));
	pins = pins_held() - pins;
	if (pins)
		return bug("MIRROR_IOC_SYNC and MIRROR_IOC_PEEK_WORD left %ld FOLL_PIN pins held", pins);
	child = fork_idle_child();
	buf[1] = 0x2222;
	if (ioctl(fd, MIRROR_IOC_SYNC) || ioctl(fd, MIRROR_IOC_READ_WORD, &word))
		return setup_error("MIRROR_IOC_SYNC/READ_WORD: %s", strerror(errno));
	end_child(child);
	close(fd);
	if (word.value != 0x2222)
		return bug("after fork() and a parent write the mirror reads %#llx, not 0x2222",
			   (unsigned long long)word.value);
	return ok("MIRROR_IOC_SYNC and MIRROR_IOC_PEEK_WORD left no pin; after fork() and a parent "
		  "write, SYNC mirrored the new value (0x2222)");
}

REPRO_SCENARIOS(
	{ "debug-keep-diverges-after-fork", debug_keep_diverges_after_fork },
	{ "sync-and-peek-keep-no-pin", sync_and_peek_keep_no_pin },
)

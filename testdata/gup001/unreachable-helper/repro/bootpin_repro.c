/*
 * Repro of testdata/gup001/unreachable-helper: BP_IOC_SET_SCRATCH keeps FOLL_GET references in
 * a global; after fork() and a write by the parent the kept page (read through gupprobe) is no
 * longer the process's. BP_IOC_ATTACH pins with FOLL_LONGTERM and stays coherent.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct bp_buf {
	uint64_t addr;
	uint32_t nr_pages;
	uint32_t pad;
};

#define BP_IOC_ATTACH		_IOW('b', 1, struct bp_buf)
#define BP_IOC_SET_SCRATCH	_IOW('b', 2, struct bp_buf)
#define BP_IOC_DETACH		_IO('b', 3)

static int keep_then_fork(unsigned long request, const char *name)
{
	uint8_t *buf = map_buffer(REPRO_PAGE);
	struct bp_buf req = { .addr = (uintptr_t)buf, .nr_pages = 1 };

	return request_then_fork("/dev/bootpin", request, name, &req, buf);
}

static int set_scratch_diverges_after_fork(void)
{
	return keep_then_fork(BP_IOC_SET_SCRATCH, "BP_IOC_SET_SCRATCH");
}

/*
 * Before 6.2, get_user_pages_unlocked() (under pin_user_pages_unlocked()) refuses FOLL_LONGTERM
 * with a WARN and -EINVAL: then nothing is pinned at all, which is clean for GUP001 too.
 */
static int attach_stays_coherent_after_fork(void)
{
	uint8_t *buf = map_buffer(REPRO_PAGE);
	struct bp_buf req = { .addr = (uintptr_t)buf, .nr_pages = 1 };
	int fd = open("/dev/bootpin", O_RDWR);
	long pins = pins_held();

	if (fd < 0 || !buf)
		return setup_error("/dev/bootpin: %s", strerror(errno));
	if (ioctl(fd, BP_IOC_ATTACH, &req) == 0) {
		char what[400];
		int diverged = fork_then_write(buf, 0x5a, what, sizeof(what));

		ioctl(fd, BP_IOC_DETACH);
		close(fd);
		if (diverged < 0)
			return setup_error("%s", what);
		return diverged ? bug("BP_IOC_ATTACH: %s", what) : ok("BP_IOC_ATTACH: %s", what);
	}
	if (errno != EINVAL)
		return setup_error("BP_IOC_ATTACH: %s", strerror(errno));
	pins = pins_held() - pins;
	close(fd);
	if (pins)
		return bug("BP_IOC_ATTACH failed with -EINVAL and left %ld FOLL_PIN pins held", pins);
	return ok("BP_IOC_ATTACH pins nothing on this kernel: pin_user_pages_unlocked() refuses "
		  "FOLL_LONGTERM before 6.2 (-EINVAL, with a WARN), so no pin is kept");
}

REPRO_SCENARIOS(
	{ "set-scratch-diverges-after-fork", set_scratch_diverges_after_fork },
	{ "attach-stays-coherent-after-fork", attach_stays_coherent_after_fork },
)

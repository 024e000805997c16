/*
 * Repro of testdata/gup003/buffers-in-session-struct: a session's buffer is registered
 * (RXSLOT_IOC_REGISTER keeps FOLL_GET references), a helper child is forked and exits, the
 * parent writes the buffer's first byte (0xee) and the device fills every registered page
 * with its sequence number (RXSLOT_IOC_FILL):
 *   rx  (posix_memalign'd, no madvise)  the parent's first page was copied: the fill is lost;
 *   ctl (aligned_alloc + MADV_DONTFORK)  never shared with the child: the fill arrives.
 */
#include <stdio.h>

#include "gupcheck_repro.h"
#include "rxslot_uapi.h"

#define RX_BYTES	(16 * 4096)
#define CTL_BYTES	(4 * 4096)

static int fill_after_fork(uint8_t *buf, size_t bytes, uint32_t slot, const char *what)
{
	struct rxslot_region r = { .addr = (uintptr_t)buf, .len = bytes, .slot = slot };
	int fd = open("/dev/rxslot", O_RDWR);
	uint8_t first, last;
	pid_t child;

	if (fd < 0)
		return setup_error("/dev/rxslot: %s", strerror(errno));
	memset(buf, 0, bytes);
	if (ioctl(fd, RXSLOT_IOC_REGISTER, &r) < 0)
		return setup_error("RXSLOT_IOC_REGISTER %s: %s", what, strerror(errno));
	child = fork();
	if (child == 0)
		_exit(0);
	if (child < 0 || waitpid(child, NULL, 0) != child)
		return setup_error("fork: %s", strerror(errno));
	buf[0] = 0xee;
	if (ioctl(fd, RXSLOT_IOC_FILL, 0) < 0)
		return setup_error("RXSLOT_IOC_FILL: %s", strerror(errno));
	first = buf[0];
	last = buf[bytes - 1 - 4095];	/* first byte of the last page */
	close(fd);
	if (first != last)
		return bug("%s: after fork() and a write by the parent, RXSLOT_IOC_FILL wrote %#x into the "
			   "pages the driver kept, but the parent's first page still holds its own %#x",
			   what, last, first);
	return ok("%s: after fork() and a parent write the fill (%#x) reached every page", what, first);
}

static int session_rx_misses_fill_after_fork(void)
{
	void *rx = NULL;

	if (posix_memalign(&rx, 4096, RX_BYTES))
		return setup_error("posix_memalign: %s", strerror(errno));
	return fill_after_fork(rx, RX_BYTES, 0, "session rx buffer");
}

static int session_ctl_dontfork_keeps_fill(void)
{
	uint8_t *ctl = aligned_alloc(4096, CTL_BYTES);

	if (!ctl)
		return setup_error("aligned_alloc: %s", strerror(errno));
	if (madvise(ctl, CTL_BYTES, MADV_DONTFORK))
		return setup_error("madvise: %s", strerror(errno));
	return fill_after_fork(ctl, CTL_BYTES, 1, "session ctl buffer (MADV_DONTFORK)");
}

REPRO_SCENARIOS(
	{ "session-rx-misses-fill-after-fork", session_rx_misses_fill_after_fork },
	{ "session-ctl-dontfork-keeps-fill", session_ctl_dontfork_keeps_fill },
)

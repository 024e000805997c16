/*
 * Repro of testdata/gup003/library-no-main: a program that uses the library, then forks.
 * The ring from nicq_rx_attach() (FOLL_GET references kept by the driver, no MADV_DONTFORK)
 * is copied for the parent at its next write; the ring from nicq_rx_attach_dontfork() is not.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define RING_BYTES	(4 * REPRO_PAGE)

void *nicq_rx_attach(int fd, size_t len);
void *nicq_rx_attach_dontfork(int fd, size_t len);
int nicq_rx_detach(int fd, void *buf);

static int attach_then_fork(void *(*attach)(int, size_t), const char *name)
{
	int fd = open("/dev/nicq", O_RDWR);
	char what[400];
	uint8_t *ring;
	int diverged;

	if (fd < 0)
		return setup_error("/dev/nicq: %s", strerror(errno));
	ring = attach(fd, RING_BYTES);
	if (!ring)
		return setup_error("%s: %s", name, strerror(errno));
	diverged = fork_then_write(ring, 0x5a, what, sizeof(what));
	nicq_rx_detach(fd, ring);
	close(fd);
	if (diverged < 0)
		return setup_error("%s", what);
	return diverged ? bug("%s(): %s", name, what) : ok("%s(): %s", name, what);
}

static int lib_attach_diverges_after_fork(void)
{
	return attach_then_fork(nicq_rx_attach, "nicq_rx_attach");
}

static int lib_attach_dontfork_stays_coherent(void)
{
	return attach_then_fork(nicq_rx_attach_dontfork, "nicq_rx_attach_dontfork");
}

REPRO_SCENARIOS(
	{ "lib-attach-diverges-after-fork", lib_attach_diverges_after_fork },
	{ "lib-attach-dontfork-stays-coherent", lib_attach_dontfork_stays_coherent },
)

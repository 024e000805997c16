/*
 * Repro of testdata/gup003/foll-pin-is-fork-safe, as accmem_app.c does it: the scratch buffer
 * (anonymous mmap) mapped with AM_IOC_MAP_LEGACY keeps FOLL_GET references; after fork() and a
 * write by the parent, the device's view of the kept page is not the process's. The weights
 * (malloc) mapped with AM_IOC_MAP are pinned FOLL_PIN | FOLL_LONGTERM: since 5.9 fork copies
 * pinned pages for the child and the parent keeps the device's page.
 */
#include <stdio.h>

#include "gupcheck_repro.h"
#include "accmem_uapi.h"

#define WEIGHTS_BYTES	(1024 * 1024)
#define SCRATCH_BYTES	(256 * 1024)

static int map_then_fork(unsigned long request, uint8_t *buf, size_t len, const char *name)
{
	struct am_map map = { .addr = (uintptr_t)buf, .len = len };
	int fd = open("/dev/accmem", O_RDWR);
	char what[400];
	int diverged;

	if (fd < 0 || !buf)
		return setup_error("/dev/accmem: %s", strerror(errno));
	if (ioctl(fd, request, &map) < 0)
		return setup_error("%s: %s", name, strerror(errno));
	diverged = fork_then_write(buf, 1, what, sizeof(what));
	ioctl(fd, AM_IOC_UNMAP, &map.handle);
	close(fd);
	if (diverged < 0)
		return setup_error("%s", what);
	return diverged ? bug("%s: %s", name, what) : ok("%s: %s", name, what);
}

static int map_legacy_diverges_after_fork(void)
{
	uint8_t *scratch = mmap(NULL, SCRATCH_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (scratch == MAP_FAILED)
		return setup_error("mmap: %s", strerror(errno));
	memset(scratch, 0, SCRATCH_BYTES);
	return map_then_fork(AM_IOC_MAP_LEGACY, scratch, SCRATCH_BYTES, "AM_IOC_MAP_LEGACY");
}

static int map_longterm_stays_coherent_after_fork(void)
{
	uint8_t *weights = malloc(WEIGHTS_BYTES);

	if (!weights)
		return setup_error("malloc: %s", strerror(errno));
	memset(weights, 0, WEIGHTS_BYTES);
	return map_then_fork(AM_IOC_MAP, weights, WEIGHTS_BYTES, "AM_IOC_MAP");
}

REPRO_SCENARIOS(
	{ "map-legacy-diverges-after-fork", map_legacy_diverges_after_fork },
	{ "map-longterm-stays-coherent-after-fork", map_longterm_stays_coherent_after_fork },
)

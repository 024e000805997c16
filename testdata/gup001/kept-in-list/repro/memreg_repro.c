/*
 * Repro of testdata/gup001/kept-in-list: a region registered with MEMREG_IOC_REG_GET keeps
 * FOLL_GET references; after fork() and a write by the parent, the device's view of the kept
 * page (read through gupprobe) no longer matches the process's. MEMREG_IOC_REG_PIN pins
 * with FOLL_LONGTERM: fork copies the page for the child and both views stay one.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct memreg_req {
	uint64_t addr;
	uint64_t len;
	uint32_t handle;
	uint32_t pad;
};

#define MEMREG_IOC_REG_GET	_IOWR('M', 1, struct memreg_req)
#define MEMREG_IOC_REG_PIN	_IOWR('M', 2, struct memreg_req)

static int register_then_fork(unsigned long request, const char *name)
{
	uint8_t *buf = map_buffer(4 * REPRO_PAGE);
	struct memreg_req req = { .addr = (uintptr_t)buf, .len = 4 * REPRO_PAGE };

	return request_then_fork("/dev/memreg", request, name, &req, buf);
}

static int reg_get_diverges_after_fork(void)
{
	return register_then_fork(MEMREG_IOC_REG_GET, "MEMREG_IOC_REG_GET");
}

static int reg_pin_stays_coherent_after_fork(void)
{
	return register_then_fork(MEMREG_IOC_REG_PIN, "MEMREG_IOC_REG_PIN");
}

REPRO_SCENARIOS(
	{ "reg-get-diverges-after-fork", reg_get_diverges_after_fork },
	{ "reg-pin-stays-coherent-after-fork", reg_pin_stays_coherent_after_fork },
)

/*
 * Repro of testdata/gup005/header-accessors. READING and PEAK are each given a kernel address
 * (gupprobe's pattern buffer): READING's helper stores through it without a range check, PEAK's
 * caller checks first and refuses it. LIMITS is given an address with nothing mapped: its helper
 * drops the failed copy and the call reports success.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct meterq_limits {
	uint32_t low;
	uint32_t high;
};

#define METERQ_IOC_READING	_IOR('m', 1, uint64_t)
#define METERQ_IOC_PEAK		_IOR('m', 2, uint64_t)
#define METERQ_IOC_LIMITS	_IOW('m', 3, struct meterq_limits)

/* One request with the kernel target as its user pointer: 1 if the target was written. */
static int aim_at_kernel(unsigned long request, const char *name)
{
	uint64_t target = kernel_target();
	int fd = open("/dev/meterq", O_RDWR);
	int changed;
	long ret;

	if (fd < 0 || !target)
		return setup_error("/dev/meterq or gupprobe: %s", strerror(errno));
	ret = ioctl(fd, request, (void *)(uintptr_t)target) < 0 ? -errno : 0;
	close(fd);
	changed = kernel_target_changed();
	if (changed < 0)
		return setup_error("gupprobe: %s", strerror(errno));
	if (changed)
		return bug("%s given the kernel address %#llx returned %ld and wrote %d bytes of kernel "
			   "memory there (access_ok() would have refused it)",
			   name, (unsigned long long)target, ret, changed);
	if (ret != -EFAULT)
		return bug("%s given a kernel address returned %ld instead of -EFAULT", name, ret);
	return ok("%s refused the kernel address %#llx with -EFAULT and left it unchanged",
		  name, (unsigned long long)target);
}

static int reading_writes_kernel_memory(void)
{
	return aim_at_kernel(METERQ_IOC_READING, "METERQ_IOC_READING");
}

static int peak_refuses_kernel_address(void)
{
	return aim_at_kernel(METERQ_IOC_PEAK, "METERQ_IOC_PEAK");
}

static int limits_hides_fault(void)
{
	void *hole = unmapped_address();
	int fd = open("/dev/meterq", O_RDWR);
	long ret;

	if (fd < 0 || !hole)
		return setup_error("/dev/meterq: %s", strerror(errno));
	ret = ioctl(fd, METERQ_IOC_LIMITS, hole) < 0 ? -errno : 0;
	close(fd);
	if (ret == 0)
		return bug("METERQ_IOC_LIMITS with an unmapped user address returned 0 (success): the "
			   "failed copy was ignored and the old limits were installed as if new");
	return ok("METERQ_IOC_LIMITS with an unmapped user address returned %ld", ret);
}

REPRO_SCENARIOS(
	{ "reading-writes-kernel-memory", reading_writes_kernel_memory },
	{ "limits-hides-fault", limits_hides_fault },
	{ "peak-refuses-kernel-address", peak_refuses_kernel_address },
)

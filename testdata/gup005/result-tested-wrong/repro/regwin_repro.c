/*
 * Repro of testdata/gup005/result-tested-wrong: each command gets a user address with nothing
 * mapped. A command that tests the copy's count for a negative value, only logs it, or never
 * reads it returns success although nothing was copied; the look-alikes return -EFAULT.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define REGWIN_NR_REGS		64

struct regwin_io {
	uint32_t offset;
	uint32_t value;
};

#define REGWIN_IOC_WRITE	_IOW('w', 1, struct regwin_io)
#define REGWIN_IOC_WRITE_LOGGED	_IOW('w', 3, struct regwin_io)
#define REGWIN_IOC_SNAPSHOT	_IOR('w', 4, uint32_t[REGWIN_NR_REGS])
#define REGWIN_IOC_WRITE_OK	_IOW('w', 5, struct regwin_io)
#define REGWIN_IOC_READ_OK	_IOWR('w', 6, struct regwin_io)
#define REGWIN_IOC_SNAPSHOT_OK	_IOR('w', 7, uint32_t[REGWIN_NR_REGS])
#define REGWIN_IOC_READ_INLINE	_IOWR('w', 8, struct regwin_io)

/* 0 or -errno of one request on an unmapped address; -1000 when the device is missing. */
static long on_hole(unsigned long request)
{
	void *hole = unmapped_address();
	int fd = open("/dev/regwin", O_RDWR);
	long ret;

	if (fd < 0 || !hole)
		return -1000;
	ret = ioctl(fd, request, hole) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

static int fault_reported(unsigned long request, const char *name)
{
	long ret = on_hole(request);

	if (ret == -1000)
		return setup_error("/dev/regwin: %s", strerror(errno));
	if (ret == 0)
		return bug("%s with an unmapped user address returned 0 (success): the failed copy went "
			   "unnoticed", name);
	return ok("%s with an unmapped user address returned %ld", name, ret);
}

static int write_tested_negative_hides_fault(void)
{
	return fault_reported(REGWIN_IOC_WRITE, "REGWIN_IOC_WRITE");
}

static int write_logged_hides_fault(void)
{
	return fault_reported(REGWIN_IOC_WRITE_LOGGED, "REGWIN_IOC_WRITE_LOGGED");
}

static int snapshot_unread_hides_fault(void)
{
	return fault_reported(REGWIN_IOC_SNAPSHOT, "REGWIN_IOC_SNAPSHOT");
}

static int write_ok_reports_fault(void)
{
	return fault_reported(REGWIN_IOC_WRITE_OK, "REGWIN_IOC_WRITE_OK");
}

static int read_ok_reports_fault(void)
{
	return fault_reported(REGWIN_IOC_READ_OK, "REGWIN_IOC_READ_OK");
}

static int snapshot_ok_reports_fault(void)
{
	return fault_reported(REGWIN_IOC_SNAPSHOT_OK, "REGWIN_IOC_SNAPSHOT_OK");
}

static int read_inline_reports_fault(void)
{
	return fault_reported(REGWIN_IOC_READ_INLINE, "REGWIN_IOC_READ_INLINE");
}

REPRO_SCENARIOS(
	{ "write-tested-negative-hides-fault", write_tested_negative_hides_fault },
	{ "write-logged-hides-fault", write_logged_hides_fault },
	{ "snapshot-unread-hides-fault", snapshot_unread_hides_fault },
	{ "write-ok-reports-fault", write_ok_reports_fault },
	{ "read-ok-reports-fault", read_ok_reports_fault },
	{ "snapshot-ok-reports-fault", snapshot_ok_reports_fault },
	{ "read-inline-reports-fault", read_inline_reports_fault },
)

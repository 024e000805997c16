/*
 * Repro of testdata/gup005/ignored-copy-result: the same unreadable/unwritable user address
 * for every call. A copy whose result is thrown away fails silently: the call reports success
 * (and, for QUICK_CONFIG, installs a zeroed configuration; for GET_ERRORS, loses the count).
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct tune_config {
	uint32_t frequency_khz;
	uint32_t bandwidth_khz;
	int32_t gain_db;
	uint32_t flags;
};

struct tune_status {
	uint32_t locked;
	int32_t rssi_dbm;
	uint32_t frequency_khz;
	uint32_t errors;
};

#define TUNE_IOC_SET_CONFIG	_IOW('u', 1, struct tune_config)
#define TUNE_IOC_GET_STATUS	_IOR('u', 2, struct tune_status)
#define TUNE_IOC_SET_GAIN	_IOW('u', 3, int32_t)
#define TUNE_IOC_GET_GAIN	_IOR('u', 4, int32_t)
#define TUNE_IOC_SET_NAME	_IOW('u', 5, char *)
#define TUNE_IOC_QUICK_CONFIG	_IOW('u', 6, struct tune_config)
#define TUNE_IOC_PEEK_STATUS	_IOR('u', 7, struct tune_status)
#define TUNE_IOC_NUDGE_GAIN	_IOW('u', 8, int32_t)
#define TUNE_IOC_GET_ERRORS	_IOR('u', 9, uint32_t)
#define TUNE_IOC_LABEL		_IOW('u', 10, char *)
#define TUNE_IOC_GET_FREQ	_IOR('u', 11, uint32_t)

/* The result of one request on an address with nothing mapped: 0 or -errno (-1000: no device). */
static long on_hole(unsigned long request)
{
	void *hole = unmapped_address();
	int fd = open("/dev/tunectl", O_RDWR);
	long ret;

	if (fd < 0 || !hole)
		return -1000;
	ret = ioctl(fd, request, hole) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

static int hides_fault(unsigned long request, const char *name, const char *consequence)
{
	long ret = on_hole(request);

	if (ret == -1000)
		return setup_error("/dev/tunectl: %s", strerror(errno));
	if (ret == 0)
		return bug("%s with an unmapped user address returned 0 (success): the failed copy was "
			   "ignored%s", name, consequence);
	return ok("%s with an unmapped user address returned %ld", name, ret);
}

static int reports_fault(unsigned long request, const char *name)
{
	long ret = on_hole(request);

	if (ret == -1000)
		return setup_error("/dev/tunectl: %s", strerror(errno));
	if (ret != -EFAULT)
		return bug("%s with an unmapped user address returned %ld, not -EFAULT", name, ret);
	return ok("%s with an unmapped user address returned -EFAULT", name);
}

static int quick_config_hides_fault(void)
{
	struct tune_config good = { .frequency_khz = 101100, .gain_db = 12 };
	int32_t gain = -1;
	int fd = open("/dev/tunectl", O_RDWR);
	long ret;

	if (fd < 0)
		return setup_error("/dev/tunectl: %s", strerror(errno));
	if (ioctl(fd, TUNE_IOC_SET_CONFIG, &good))
		return setup_error("TUNE_IOC_SET_CONFIG: %s", strerror(errno));
	ret = ioctl(fd, TUNE_IOC_QUICK_CONFIG, unmapped_address()) < 0 ? -errno : 0;
	ioctl(fd, TUNE_IOC_GET_GAIN, &gain);
	close(fd);
	if (ret == 0)
		return bug("TUNE_IOC_QUICK_CONFIG with an unmapped user address returned 0 (success) and "
			   "installed a configuration that never arrived (gain %d dB, was 12)", gain);
	return ok("TUNE_IOC_QUICK_CONFIG with an unmapped user address returned %ld", ret);
}

static int peek_status_hides_fault(void)
{
	return hides_fault(TUNE_IOC_PEEK_STATUS, "TUNE_IOC_PEEK_STATUS", ": the caller never got the status");
}

static int nudge_gain_hides_fault(void)
{
	return hides_fault(TUNE_IOC_NUDGE_GAIN, "TUNE_IOC_NUDGE_GAIN", "");
}

static int get_errors_hides_fault(void)
{
	return hides_fault(TUNE_IOC_GET_ERRORS, "TUNE_IOC_GET_ERRORS",
			   " and the error count was reset although nobody received it");
}

static int label_hides_fault(void)
{
	return hides_fault(TUNE_IOC_LABEL, "TUNE_IOC_LABEL", "");
}

static int write_hides_clear_fault(void)
{
	void *readonly = mmap(NULL, REPRO_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/dev/tunectl", O_RDWR);
	ssize_t n;

	if (fd < 0 || readonly == MAP_FAILED)
		return setup_error("/dev/tunectl: %s", strerror(errno));
	n = write(fd, readonly, sizeof(uint32_t));
	close(fd);
	if (n == sizeof(uint32_t))
		return bug("write() from a read-only buffer returned %zd (success) although the driver "
			   "could not clear it (clear_user() failed, result ignored)", n);
	return ok("write() from a read-only buffer returned %zd", n);
}

static int set_config_reports_fault(void)
{
	return reports_fault(TUNE_IOC_SET_CONFIG, "TUNE_IOC_SET_CONFIG");
}

static int get_status_reports_fault(void)
{
	return reports_fault(TUNE_IOC_GET_STATUS, "TUNE_IOC_GET_STATUS");
}

static int set_gain_reports_fault(void)
{
	return reports_fault(TUNE_IOC_SET_GAIN, "TUNE_IOC_SET_GAIN");
}

static int get_gain_reports_fault(void)
{
	return reports_fault(TUNE_IOC_GET_GAIN, "TUNE_IOC_GET_GAIN");
}

static int get_freq_reports_fault(void)
{
	return reports_fault(TUNE_IOC_GET_FREQ, "TUNE_IOC_GET_FREQ");
}

static int set_name_reports_fault(void)
{
	return reports_fault(TUNE_IOC_SET_NAME, "TUNE_IOC_SET_NAME");
}

static int read_reports_fault(void)
{
	int fd = open("/dev/tunectl", O_RDWR);
	void *hole = unmapped_address();
	ssize_t n;

	if (fd < 0 || !hole)
		return setup_error("/dev/tunectl: %s", strerror(errno));
	n = read(fd, hole, 64);
	n = n < 0 ? -errno : n;
	close(fd);
	if (n != -EFAULT)
		return bug("read() into an unmapped address returned %zd, not -EFAULT", n);
	return ok("read() into an unmapped address returned -EFAULT");
}

REPRO_SCENARIOS(
	{ "quick-config-hides-fault", quick_config_hides_fault },
	{ "peek-status-hides-fault", peek_status_hides_fault },
	{ "nudge-gain-hides-fault", nudge_gain_hides_fault },
	{ "get-errors-hides-fault", get_errors_hides_fault },
	{ "label-hides-fault", label_hides_fault },
	{ "write-hides-clear-fault", write_hides_clear_fault },
	{ "set-config-reports-fault", set_config_reports_fault },
	{ "get-status-reports-fault", get_status_reports_fault },
	{ "set-gain-reports-fault", set_gain_reports_fault },
	{ "get-gain-reports-fault", get_gain_reports_fault },
	{ "get-freq-reports-fault", get_freq_reports_fault },
	{ "set-name-reports-fault", set_name_reports_fault },
	{ "read-reports-fault", read_reports_fault },
)

/*
 * Repro of testdata/gup005/unbounded-user-length. Struct cmdlog_dev (after its 32-byte mutex):
 * regs[32], log[256], tail[256], log_len, blob, blob_len, stats (commands, bytes, errors,
 * last_len). An unbounded length runs from one field into the next:
 *   LOAD_REGS, 288 bytes    regs and all of log: the log reads back the pattern;
 *   TAIL, 304 bytes         tail, log_len, blob, blob_len and stats: stats read back log bytes;
 *   cmdlog-raw write/read   the 64-byte command / 24-byte stack snapshot: the kernel's
 *                           check_copy_size() refuses the copy and warns.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct cmdlog_xfer {
	uint64_t data;
	uint32_t len;
	uint32_t reg;
};

struct cmdlog_stats {
	uint64_t commands;
	uint64_t bytes;
	uint32_t errors;
	uint32_t last_len;
};

#define CMDLOG_IOC_LOAD_REGS	_IOW('L', 1, struct cmdlog_xfer)
#define CMDLOG_IOC_STORE_BLOB	_IOW('L', 2, struct cmdlog_xfer)
#define CMDLOG_IOC_TAIL		_IO('L', 3)
#define CMDLOG_IOC_GET_STATS	_IOR('L', 4, struct cmdlog_stats)
#define CMDLOG_IOC_SAVE_REGS	_IOW('L', 5, struct cmdlog_xfer)

#define LOG_SIZE	256
#define REGS_SIZE	32

static int open_device(const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/%s", name);
	return open(path, O_RDWR);
}

static int load_regs_overflows_into_log(void)
{
	uint8_t data[REGS_SIZE + LOG_SIZE], log[LOG_SIZE];
	struct cmdlog_xfer x = { .data = (uintptr_t)data, .len = sizeof(data) };
	int fd = open_device("cmdlog");
	int pattern = 0, i;
	long ret;

	if (fd < 0)
		return setup_error("/dev/cmdlog: %s", strerror(errno));
	memset(data, 0x5a, sizeof(data));
	ret = ioctl(fd, CMDLOG_IOC_LOAD_REGS, &x) < 0 ? -errno : 0;
	if (read(fd, log, sizeof(log)) != LOG_SIZE)
		return setup_error("read: %s", strerror(errno));
	close(fd);
	for (i = 0; i < LOG_SIZE; i++)
		pattern += log[i] == 0x5a;
	if (pattern)
		return bug("CMDLOG_IOC_LOAD_REGS with len %zu into the %d-byte regs returned %ld and wrote "
			   "past them: %d bytes of cmdlog.log now hold the caller's data",
			   sizeof(data), REGS_SIZE, ret, pattern);
	return ok("CMDLOG_IOC_LOAD_REGS with len %zu returned %ld and the log is intact", sizeof(data), ret);
}

static int tail_overflows_into_stats(void)
{
	uint8_t log[LOG_SIZE];
	struct cmdlog_stats stats;
	int fd = open_device("cmdlog"), logfd = open_device("cmdlog-log");
	char warning[300] = "";
	long ret;

	if (fd < 0 || logfd < 0)
		return setup_error("/dev/cmdlog, /dev/cmdlog-log: %s", strerror(errno));
	/* log[0..23] land on log_len, blob and blob_len: zero keeps the blob pointer NULL. */
	memset(log, 0, 24);
	memset(log + 24, 0x5a, 24);
	memset(log + 48, 0x11, LOG_SIZE - 48);
	if (write(logfd, log, sizeof(log)) != LOG_SIZE)
		return setup_error("write /dev/cmdlog-log: %s", strerror(errno));
	ret = ioctl(fd, CMDLOG_IOC_TAIL, (unsigned long)(LOG_SIZE + 48)) < 0 ? -errno : 0;
	if (ioctl(fd, CMDLOG_IOC_GET_STATS, &stats))
		return setup_error("CMDLOG_IOC_GET_STATS: %s", strerror(errno));
	close(fd);
	close(logfd);
	kernel_log_find("field-spanning write", warning, sizeof(warning));
	if (stats.commands == 0x5a5a5a5a5a5a5a5aULL)
		return bug("CMDLOG_IOC_TAIL with %d bytes into the %d-byte tail returned %ld and overwrote "
			   "the fields after it: stats.commands now reads %#llx (log bytes)%s%s",
			   LOG_SIZE + 48, LOG_SIZE, ret, (unsigned long long)stats.commands,
			   *warning ? "; kernel: " : "", warning);
	return ok("CMDLOG_IOC_TAIL returned %ld; stats.commands is %llu", ret,
		  (unsigned long long)stats.commands);
}

static int raw_write_overflows_command(void)
{
	uint8_t data[100];
	int fd = open_device("cmdlog-raw");
	char warning[300];
	ssize_t n;

	if (fd < 0)
		return setup_error("/dev/cmdlog-raw: %s", strerror(errno));
	memset(data, 'c', sizeof(data));
	n = write(fd, data, sizeof(data));
	n = n < 0 ? -errno : n;
	close(fd);
	if (kernel_log_find("Buffer overflow detected", warning, sizeof(warning)))
		return bug("write() of %zu bytes into the 64-byte cmdlog_last_cmd returned %zd; the "
			   "kernel's check_copy_size() caught the overflow: %s", sizeof(data), n, warning);
	if (n == (ssize_t)sizeof(data))
		return bug("write() copied %zd bytes into the 64-byte cmdlog_last_cmd", n);
	return setup_error("write() returned %zd without a kernel warning", n);
}

static int stats_read_overflows_snapshot(void)
{
	uint8_t data[100];
	int fd = open_device("cmdlog-raw");
	char warning[300];
	ssize_t n;

	if (fd < 0)
		return setup_error("/dev/cmdlog-raw: %s", strerror(errno));
	n = read(fd, data, sizeof(data));
	n = n < 0 ? -errno : n;
	close(fd);
	if (kernel_log_find("Buffer overflow detected", warning, sizeof(warning)))
		return bug("read() of %zu bytes from the 24-byte stats snapshot returned %zd; the kernel's "
			   "check_copy_size() caught the overflow: %s", sizeof(data), n, warning);
	if (n == (ssize_t)sizeof(data))
		return bug("read() returned %zd bytes from a 24-byte stack snapshot: %zd bytes of kernel "
			   "stack", n, n - 24);
	return setup_error("read() returned %zd without a kernel warning", n);
}

static int write_is_bounded(void)
{
	uint8_t data[100];
	int fd = open_device("cmdlog");
	ssize_t n;

	if (fd < 0)
		return setup_error("/dev/cmdlog: %s", strerror(errno));
	memset(data, 'c', sizeof(data));
	n = write(fd, data, sizeof(data));
	n = n < 0 ? -errno : n;
	close(fd);
	if (n != -EINVAL)
		return bug("write() of 100 bytes to the 64-byte command returned %zd", n);
	return ok("write() of 100 bytes to the 64-byte command returned -EINVAL");
}

static int read_is_clamped(void)
{
	uint8_t data[1000];
	int fd = open_device("cmdlog");
	ssize_t n;

	if (fd < 0)
		return setup_error("/dev/cmdlog: %s", strerror(errno));
	n = read(fd, data, sizeof(data));
	close(fd);
	if (n != LOG_SIZE)
		return bug("read(1000) of the %d-byte log returned %zd", LOG_SIZE, n);
	return ok("read(1000) of the %d-byte log returned %zd", LOG_SIZE, n);
}

static int log_write_is_clamped(void)
{
	uint8_t data[1000];
	int fd = open_device("cmdlog-log");
	ssize_t n;

	if (fd < 0)
		return setup_error("/dev/cmdlog-log: %s", strerror(errno));
	memset(data, 0, sizeof(data));
	n = write(fd, data, sizeof(data));
	close(fd);
	if (n != LOG_SIZE)
		return bug("write(1000) into the %d-byte log returned %zd", LOG_SIZE, n);
	return ok("write(1000) into the %d-byte log took %zd bytes", LOG_SIZE, n);
}

static int store_blob_is_sized_by_length(void)
{
	static uint8_t data[5000];
	struct cmdlog_xfer x = { .data = (uintptr_t)data, .len = sizeof(data) };
	int fd = open_device("cmdlog");
	long ret;

	if (fd < 0)
		return setup_error("/dev/cmdlog: %s", strerror(errno));
	ret = ioctl(fd, CMDLOG_IOC_STORE_BLOB, &x) < 0 ? -errno : 0;
	close(fd);
	if (ret)
		return bug("CMDLOG_IOC_STORE_BLOB of %zu bytes returned %ld", sizeof(data), ret);
	return ok("CMDLOG_IOC_STORE_BLOB copied %zu bytes into a buffer allocated with that length",
		  sizeof(data));
}

static int save_regs_is_bounded(void)
{
	uint8_t data[100];
	struct cmdlog_xfer x = { .data = (uintptr_t)data, .len = sizeof(data) };
	int fd = open_device("cmdlog");
	long ret;

	if (fd < 0)
		return setup_error("/dev/cmdlog: %s", strerror(errno));
	ret = ioctl(fd, CMDLOG_IOC_SAVE_REGS, &x) < 0 ? -errno : 0;
	close(fd);
	if (ret != -EINVAL)
		return bug("CMDLOG_IOC_SAVE_REGS of 100 bytes from the %d-byte regs returned %ld", REGS_SIZE, ret);
	return ok("CMDLOG_IOC_SAVE_REGS of 100 bytes from the %d-byte regs returned -EINVAL", REGS_SIZE);
}

static int get_stats_copies_its_size(void)
{
	struct cmdlog_stats stats;
	int fd = open_device("cmdlog");
	long ret;

	if (fd < 0)
		return setup_error("/dev/cmdlog: %s", strerror(errno));
	ret = ioctl(fd, CMDLOG_IOC_GET_STATS, &stats) < 0 ? -errno : 0;
	close(fd);
	if (ret)
		return bug("CMDLOG_IOC_GET_STATS returned %ld", ret);
	return ok("CMDLOG_IOC_GET_STATS copied sizeof(stats) bytes");
}

REPRO_SCENARIOS(
	{ "load-regs-overflows-into-log", load_regs_overflows_into_log },
	{ "tail-overflows-into-stats", tail_overflows_into_stats },
	{ "raw-write-overflows-command", raw_write_overflows_command },
	{ "stats-read-overflows-snapshot", stats_read_overflows_snapshot },
	{ "write-is-bounded", write_is_bounded },
	{ "read-is-clamped", read_is_clamped },
	{ "log-write-is-clamped", log_write_is_clamped },
	{ "store-blob-is-sized-by-length", store_blob_is_sized_by_length },
	{ "save-regs-is-bounded", save_regs_is_bounded },
	{ "get-stats-copies-its-size", get_stats_copies_its_size },
)

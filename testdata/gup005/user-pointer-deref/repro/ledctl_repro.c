/*
 * Repro of testdata/gup005/user-pointer-deref: every raw dereference of the user pointer
 * faults under SMAP (the kernel oopses and kills the program, so these scenarios print
 * nothing after the call: the runner reads the oops). The look-alikes go through the uaccess
 * API and return normally.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct led_req {
	uint32_t index;
	uint32_t brightness;
	uint32_t blink_ms;
	uint32_t flags;
};

#define LED_IOC_SET		_IOW('l', 1, struct led_req)
#define LED_IOC_SET_FAST	_IOW('l', 2, struct led_req)
#define LED_IOC_GET_COUNT	_IOR('l', 3, uint32_t)
#define LED_IOC_PUT_COUNT	_IOR('l', 4, uint32_t)
#define LED_IOC_BLINK		_IOW('l', 5, struct led_req)
#define LED_IOC_BLINK_RAW	_IOW('l', 6, struct led_req)
#define LED_IOC_REPLAY		_IO('l', 7)
#define LED_IOC_SET_INDEX	_IOW('l', 8, struct led_req)

static struct led_req req = { .index = 3, .brightness = 200, .blink_ms = 500 };
static uint32_t count;

/* Issues one ioctl on a valid user pointer; an oops ends the program inside it. */
static int call(unsigned long request, void *arg, const char *name, int expect_fault)
{
	int fd = open("/dev/ledctl", O_RDWR);
	long ret;

	if (fd < 0)
		return setup_error("/dev/ledctl: %s", strerror(errno));
	ret = ioctl(fd, request, arg) < 0 ? -errno : 0;
	close(fd);
	if (expect_fault)
		return ok("%s returned %ld with a valid user pointer: no fault (does the CPU have SMAP?)",
			  name, ret);
	if (ret && ret != -EOPNOTSUPP)
		return bug("%s returned %ld for a valid request", name, ret);
	return ok("%s returned %ld through the uaccess API, no fault", name, ret);
}

static int set_fast_reads_user_pointer(void)
{
	return call(LED_IOC_SET_FAST, &req, "LED_IOC_SET_FAST", 1);
}

static int put_count_writes_user_pointer(void)
{
	return call(LED_IOC_PUT_COUNT, &count, "LED_IOC_PUT_COUNT", 1);
}

static int blink_reads_user_pointer(void)
{
	return call(LED_IOC_BLINK, &req, "LED_IOC_BLINK", 1);
}

static int blink_raw_reads_user_pointer(void)
{
	return call(LED_IOC_BLINK_RAW, &req, "LED_IOC_BLINK_RAW", 1);
}

static int write_reads_user_buffer(void)
{
	int fd = open("/dev/ledctl", O_RDWR);
	ssize_t n;

	if (fd < 0)
		return setup_error("/dev/ledctl: %s", strerror(errno));
	n = write(fd, "37", 2);
	close(fd);
	return ok("write(\"37\") returned %zd: no fault (does the CPU have SMAP?)", n);
}

static int set_copies_from_user(void)
{
	return call(LED_IOC_SET, &req, "LED_IOC_SET", 0);
}

static int set_index_gets_user(void)
{
	return call(LED_IOC_SET_INDEX, &req, "LED_IOC_SET_INDEX", 0);
}

static int get_count_puts_user(void)
{
	count = 0;
	if (call(LED_IOC_GET_COUNT, &count, "LED_IOC_GET_COUNT", 0))
		return 0;
	return 0;
}

static int replay_reads_kernel_copy(void)
{
	return call(LED_IOC_REPLAY, NULL, "LED_IOC_REPLAY", 0);
}

REPRO_SCENARIOS(
	{ "set-fast-reads-user-pointer", set_fast_reads_user_pointer },
	{ "put-count-writes-user-pointer", put_count_writes_user_pointer },
	{ "blink-reads-user-pointer", blink_reads_user_pointer },
	{ "blink-raw-reads-user-pointer", blink_raw_reads_user_pointer },
	{ "write-reads-user-buffer", write_reads_user_buffer },
	{ "set-copies-from-user", set_copies_from_user },
	{ "set-index-gets-user", set_index_gets_user },
	{ "get-count-puts-user", get_count_puts_user },
	{ "replay-reads-kernel-copy", replay_reads_kernel_copy },
)

/*
 * Repro of testdata/example (the "demo" device):
 *   SET_NAME with len 64 into the 32-byte name: the kernel's check_copy_size() catches it;
 *   SET_FLAGS with a kernel address: __get_user() reads it (access_ok() would refuse);
 *   write() from an unmapped buffer: the failed copy is ignored and write() "succeeds".
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct demo_req {
	uint32_t len;
	uint32_t flags;
	uint64_t data;
};

#define DEMO_IOC_SET_NAME	_IOW('d', 1, struct demo_req)
#define DEMO_IOC_GET_NAME	_IOR('d', 2, struct demo_req)
#define DEMO_IOC_SET_FLAGS	_IOW('d', 3, uint32_t)

static int set_name_overflows_name(void)
{
	char name[64];
	struct demo_req req = { .len = sizeof(name), .data = (uintptr_t)name };
	int fd = open("/dev/demo", O_RDWR);
	char warning[300];
	long ret;

	if (fd < 0)
		return setup_error("/dev/demo: %s", strerror(errno));
	memset(name, 'n', sizeof(name));
	ret = ioctl(fd, DEMO_IOC_SET_NAME, &req) < 0 ? -errno : 0;
	close(fd);
	if (kernel_log_find("Buffer overflow detected", warning, sizeof(warning)))
		return bug("DEMO_IOC_SET_NAME with len 64 into the 32-byte name returned %ld; the kernel's "
			   "check_copy_size() caught the overflow: %s", ret, warning);
	if (ret == 0)
		return bug("DEMO_IOC_SET_NAME copied 64 bytes into the 32-byte name");
	return setup_error("DEMO_IOC_SET_NAME returned %ld without a kernel warning", ret);
}

static int set_flags_reads_kernel_memory(void)
{
	uint64_t target = kernel_target();
	int fd = open("/dev/demo", O_RDWR);
	long ret;

	if (fd < 0 || !target)
		return setup_error("/dev/demo or gupprobe: %s", strerror(errno));
	ret = ioctl(fd, DEMO_IOC_SET_FLAGS, (void *)(uintptr_t)target) < 0 ? -errno : 0;
	close(fd);
	if (ret == 0)
		return bug("DEMO_IOC_SET_FLAGS given the kernel address %#llx returned 0: __get_user() read "
			   "kernel memory into demo.flags (access_ok() would have refused it)",
			   (unsigned long long)target);
	return ok("DEMO_IOC_SET_FLAGS given a kernel address returned %ld", ret);
}

static int write_hides_fault(void)
{
	int fd = open("/dev/demo", O_RDWR);
	ssize_t n;

	if (fd < 0)
		return setup_error("/dev/demo: %s", strerror(errno));
	n = write(fd, unmapped_address(), 8);
	close(fd);
	if (n == 8)
		return bug("write() of 8 bytes from an unmapped address returned 8 (success): the failed "
			   "copy_from_user() was ignored and line[] printed uninitialised");
	return ok("write() from an unmapped address returned %zd", n);
}

static int get_name_is_clamped(void)
{
	char name[1000];
	struct demo_req req = { .len = sizeof(name), .data = (uintptr_t)name };
	int fd = open("/dev/demo", O_RDWR);
	long ret;

	if (fd < 0)
		return setup_error("/dev/demo: %s", strerror(errno));
	memset(name, 0x7e, sizeof(name));
	ret = ioctl(fd, DEMO_IOC_GET_NAME, &req) < 0 ? -errno : 0;
	close(fd);
	if (ret || (uint8_t)name[32] != 0x7e)
		return bug("DEMO_IOC_GET_NAME with len 1000 returned %ld and wrote past the 32-byte name", ret);
	return ok("DEMO_IOC_GET_NAME with len 1000 copied only the 32-byte name");
}

REPRO_SCENARIOS(
	{ "set-name-overflows-name", set_name_overflows_name },
	{ "set-flags-reads-kernel-memory", set_flags_reads_kernel_memory },
	{ "write-hides-fault", write_hides_fault },
	{ "get-name-is-clamped", get_name_is_clamped },
)

/*
 * Repro of testdata/gup005/converted-user-pointer: one address field of the request is a kernel
 * address (gupprobe's pattern buffer), the other a valid buffer. The checked address refuses it
 * (-EFAULT, buffer unchanged); the unchecked metadata address writes 32 bytes of 0x5a into it.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct blob_io {
	uint64_t data_ptr;
	uint64_t meta_ptr;
	uint32_t size;
	uint32_t meta_size;
};

#define BLOB_IOC_PWRITE		_IOW('B', 1, struct blob_io)
#define BLOB_IOC_PREAD		_IOW('B', 2, struct blob_io)
#define BLOB_IOC_PREAD_CAST	_IOW('B', 3, struct blob_io)
#define BLOB_IOC_PREAD_META	_IOW('B', 4, struct blob_io)
#define BLOB_IOC_PREAD_BOTH	_IOW('B', 5, struct blob_io)

/* Sends `request` with the data (or metadata) address aimed at the kernel target. */
static int aim(unsigned long request, int at_meta, const char *name, int flagged)
{
	static uint8_t data[256], meta[32];
	uint64_t target = kernel_target();
	struct blob_io io = {
		.data_ptr = (uintptr_t)data,
		.meta_ptr = (uintptr_t)meta,
		.size = 16,
		.meta_size = sizeof(meta),
	};
	int fd = open("/dev/blobio", O_RDWR);
	int changed;
	long ret;

	if (fd < 0 || !target)
		return setup_error("/dev/blobio or gupprobe: %s", strerror(errno));
	if (at_meta)
		io.meta_ptr = target;
	else
		io.data_ptr = target;
	ret = ioctl(fd, request, &io) < 0 ? -errno : 0;
	close(fd);
	changed = kernel_target_changed();
	if (changed < 0)
		return setup_error("gupprobe: %s", strerror(errno));
	if (changed)
		return bug("%s with the kernel address %#llx as its %s address returned %ld and wrote %d "
			   "bytes of kernel memory", name, (unsigned long long)target,
			   at_meta ? "metadata" : "data", ret, changed);
	if (flagged && ret == 0)
		return setup_error("%s returned 0 but the kernel buffer is unchanged", name);
	if (ret != -EFAULT)
		return bug("%s given a kernel address returned %ld, not -EFAULT", name, ret);
	return ok("%s refused the kernel address with -EFAULT and left it unchanged", name);
}

static int pread_meta_writes_kernel_memory(void)
{
	return aim(BLOB_IOC_PREAD_META, 1, "BLOB_IOC_PREAD_META", 1);
}

static int pread_both_writes_kernel_memory(void)
{
	return aim(BLOB_IOC_PREAD_BOTH, 1, "BLOB_IOC_PREAD_BOTH", 1);
}

static int pwrite_refuses_kernel_address(void)
{
	return aim(BLOB_IOC_PWRITE, 0, "BLOB_IOC_PWRITE", 0);
}

static int pread_refuses_kernel_address(void)
{
	return aim(BLOB_IOC_PREAD, 0, "BLOB_IOC_PREAD", 0);
}

static int pread_cast_refuses_kernel_address(void)
{
	return aim(BLOB_IOC_PREAD_CAST, 0, "BLOB_IOC_PREAD_CAST", 0);
}

REPRO_SCENARIOS(
	{ "pread-meta-writes-kernel-memory", pread_meta_writes_kernel_memory },
	{ "pread-both-writes-kernel-memory", pread_both_writes_kernel_memory },
	{ "pwrite-refuses-kernel-address", pwrite_refuses_kernel_address },
	{ "pread-refuses-kernel-address", pread_refuses_kernel_address },
	{ "pread-cast-refuses-kernel-address", pread_cast_refuses_kernel_address },
)

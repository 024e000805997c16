/*
 * Repro of testdata/gup005/unchecked-double-underscore: the argument of each call is a kernel
 * address (gupprobe's pattern buffer). Without access_ok(), __copy_to_user(), __put_user() and
 * __clear_user() write through it (SMAP does not stop a kernel address); the checked paths
 * return -EFAULT and leave it alone.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct stamp_sample {
	uint64_t ns;
	uint32_t channel;
	uint32_t flags;
};

struct stamp_batch {
	uint32_t count;
	uint32_t flags;
	uint64_t samples;
	uint64_t done;
};

#define STAMP_BATCH_VERBOSE	0x1
#define STAMP_IOC_SET_CHANNEL	_IOW('T', 1, uint32_t)
#define STAMP_IOC_GET_SAMPLE	_IOR('T', 2, struct stamp_sample)
#define STAMP_IOC_GET_COUNTER	_IOR('T', 3, uint64_t)
#define STAMP_IOC_READ_BATCH	_IOWR('T', 4, struct stamp_batch)
#define STAMP_IOC_LAST_SAMPLE	_IOR('T', 5, struct stamp_sample)
#define STAMP_IOC_PEEK_CHANNEL	_IOR('T', 6, uint32_t)
#define STAMP_IOC_WIPE		_IOW('T', 7, struct stamp_sample)
#define STAMP_IOC_COPY_SAMPLE	_IOWR('T', 8, struct stamp_sample)
#define STAMP_IOC_ACK_BATCH	_IOWR('T', 11, struct stamp_batch)

/* Runs one request whose user pointer is the kernel target; 1 if the target was written. */
static int aim_at_kernel(unsigned long request, int use_batch, const char *name)
{
	struct stamp_batch batch = { .count = 1 };
	struct stamp_sample samples[2];
	uint64_t target = kernel_target();
	int fd = open("/dev/stampctl", O_RDWR);
	int changed;
	long ret;

	if (fd < 0 || !target)
		return setup_error("/dev/stampctl or gupprobe: %s", strerror(errno));
	if (use_batch == 1) {		/* the completion counter points into the kernel */
		batch.samples = (uintptr_t)samples;
		batch.done = target;
		ret = ioctl(fd, request, &batch) < 0 ? -errno : 0;
	} else if (use_batch == 2) {	/* the sample array points into the kernel */
		batch.count = 2;
		batch.flags = STAMP_BATCH_VERBOSE;
		batch.samples = target;
		batch.done = (uintptr_t)&samples[1].flags;
		ret = ioctl(fd, request, &batch) < 0 ? -errno : 0;
	} else {
		ret = ioctl(fd, request, (void *)(uintptr_t)target) < 0 ? -errno : 0;
	}
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

static int last_sample_writes_kernel_memory(void)
{
	return aim_at_kernel(STAMP_IOC_LAST_SAMPLE, 0, "STAMP_IOC_LAST_SAMPLE");
}

static int read_batch_done_writes_kernel_memory(void)
{
	return aim_at_kernel(STAMP_IOC_READ_BATCH, 1, "STAMP_IOC_READ_BATCH (done pointer, not verbose)");
}

static int get_counter_writes_kernel_memory(void)
{
	return aim_at_kernel(STAMP_IOC_GET_COUNTER, 0, "STAMP_IOC_GET_COUNTER");
}

static int wipe_clears_kernel_memory(void)
{
	return aim_at_kernel(STAMP_IOC_WIPE, 0, "STAMP_IOC_WIPE");
}

static int set_channel_refuses_kernel_address(void)
{
	return aim_at_kernel(STAMP_IOC_SET_CHANNEL, 0, "STAMP_IOC_SET_CHANNEL");
}

static int read_batch_samples_refuse_kernel_address(void)
{
	return aim_at_kernel(STAMP_IOC_READ_BATCH, 2, "STAMP_IOC_READ_BATCH (sample array)");
}

static int ack_batch_refuses_kernel_address(void)
{
	return aim_at_kernel(STAMP_IOC_ACK_BATCH, 0, "STAMP_IOC_ACK_BATCH");
}

static int peek_channel_refuses_kernel_address(void)
{
	return aim_at_kernel(STAMP_IOC_PEEK_CHANNEL, 0, "STAMP_IOC_PEEK_CHANNEL");
}

static int copy_sample_refuses_kernel_address(void)
{
	return aim_at_kernel(STAMP_IOC_COPY_SAMPLE, 0, "STAMP_IOC_COPY_SAMPLE");
}

static int read_refuses_kernel_address(void)
{
	uint64_t target = kernel_target();
	int fd = open("/dev/stampctl", O_RDWR);
	ssize_t n;
	int changed;

	if (fd < 0 || !target)
		return setup_error("/dev/stampctl or gupprobe: %s", strerror(errno));
	n = read(fd, (void *)(uintptr_t)target, sizeof(struct stamp_sample));
	n = n < 0 ? -errno : n;
	close(fd);
	changed = kernel_target_changed();
	if (changed)
		return bug("read() into the kernel address %#llx returned %zd and wrote %d bytes there",
			   (unsigned long long)target, n, changed);
	return ok("read() into a kernel address returned %zd and left it unchanged", n);
}

REPRO_SCENARIOS(
	{ "last-sample-writes-kernel-memory", last_sample_writes_kernel_memory },
	{ "read-batch-done-writes-kernel-memory", read_batch_done_writes_kernel_memory },
	{ "get-counter-writes-kernel-memory", get_counter_writes_kernel_memory },
	{ "wipe-clears-kernel-memory", wipe_clears_kernel_memory },
	{ "set-channel-refuses-kernel-address", set_channel_refuses_kernel_address },
	{ "read-batch-samples-refuse-kernel-address", read_batch_samples_refuse_kernel_address },
	{ "ack-batch-refuses-kernel-address", ack_batch_refuses_kernel_address },
	{ "peek-channel-refuses-kernel-address", peek_channel_refuses_kernel_address },
	{ "copy-sample-refuses-kernel-address", copy_sample_refuses_kernel_address },
	{ "read-refuses-kernel-address", read_refuses_kernel_address },
)

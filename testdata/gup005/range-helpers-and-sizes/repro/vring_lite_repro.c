/*
 * Repro of testdata/gup005/range-helpers-and-sizes. The driver's helpers refuse what lies
 * outside the ranges they were given (a kernel ring, an address outside the window); the raw
 * window read writes kernel memory. 40-entry uploads overflow the 32-entry table into the
 * scratch buffer, which a window read brings back. The scratch buffer outlives each scenario's
 * process (an earlier overflow leaves its bytes there), so each upload uses a byte value the
 * scratch buffer does not hold before it.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct vlq_entry {
	uint32_t key;
	uint32_t val;
};

struct vlq_ring_setup {
	uint64_t desc;
	uint64_t used;
	uint32_t num;
	uint32_t pad;
};

struct vlq_win_setup {
	uint64_t start;
	uint64_t size;
};

struct vlq_win_io {
	uint64_t addr;
	uint32_t len;
	uint32_t pad;
};

struct vlq_table_io {
	uint64_t entries;
	uint32_t first;
	uint32_t nr;
};

#define VLQ_IOC_SET_RING	_IOW('v', 1, struct vlq_ring_setup)
#define VLQ_IOC_SET_WINDOW	_IOW('v', 2, struct vlq_win_setup)
#define VLQ_IOC_WIN_READ	_IOW('v', 3, struct vlq_win_io)
#define VLQ_IOC_WIN_READ_RAW	_IOW('v', 4, struct vlq_win_io)
#define VLQ_IOC_LOAD_TABLE	_IOW('v', 5, struct vlq_table_io)
#define VLQ_IOC_LOAD_SLICE	_IOW('v', 6, struct vlq_table_io)
#define VLQ_IOC_LOAD_ARRAY	_IOW('v', 7, struct vlq_table_io)
#define VLQ_IOC_LOAD_BOUNDED	_IOW('v', 8, struct vlq_table_io)
#define VLQ_IOC_PEEK_USED	_IOR('v', 10, uint32_t)

#define UPLOAD_ENTRIES	40	/* the table holds 32 */
#define SCRATCH_BYTES	256

static uint8_t window[4096];

static int open_vlq(void)
{
	struct vlq_win_setup w = { .start = (uintptr_t)window, .size = sizeof(window) };
	int fd = open("/dev/vring_lite", O_RDWR);

	if (fd >= 0 && ioctl(fd, VLQ_IOC_SET_WINDOW, &w)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int win_read_raw_writes_kernel_memory(void)
{
	uint64_t target = kernel_target();
	struct vlq_win_io io = { .addr = target, .len = 16 };
	int fd = open_vlq(), changed;
	long ret;

	if (fd < 0 || !target)
		return setup_error("/dev/vring_lite or gupprobe: %s", strerror(errno));
	ret = ioctl(fd, VLQ_IOC_WIN_READ_RAW, &io) < 0 ? -errno : 0;
	close(fd);
	changed = kernel_target_changed();
	if (changed < 0)
		return setup_error("gupprobe: %s", strerror(errno));
	if (changed)
		return bug("VLQ_IOC_WIN_READ_RAW to the kernel address %#llx returned %ld and wrote %d bytes "
			   "of kernel memory", (unsigned long long)target, ret, changed);
	return ok("VLQ_IOC_WIN_READ_RAW to a kernel address returned %ld and left it unchanged", ret);
}

static int win_read_refuses_address_outside_window(void)
{
	uint64_t target = kernel_target();
	struct vlq_win_io io = { .addr = target, .len = 16 };
	int fd = open_vlq(), changed;
	long ret;

	if (fd < 0 || !target)
		return setup_error("/dev/vring_lite or gupprobe: %s", strerror(errno));
	ret = ioctl(fd, VLQ_IOC_WIN_READ, &io) < 0 ? -errno : 0;
	close(fd);
	changed = kernel_target_changed();
	if (changed < 0)
		return setup_error("gupprobe: %s", strerror(errno));
	if (changed || ret != -EFAULT)
		return bug("VLQ_IOC_WIN_READ to a kernel address returned %ld and changed %d bytes", ret, changed);
	return ok("VLQ_IOC_WIN_READ to an address outside the window returned -EFAULT");
}

static int set_ring_refuses_kernel_ring(void)
{
	uint64_t target = kernel_target();
	struct vlq_ring_setup s = { .desc = (uintptr_t)window, .used = target, .num = 8 };
	int fd = open_vlq(), changed;
	long ret;

	if (fd < 0 || !target)
		return setup_error("/dev/vring_lite or gupprobe: %s", strerror(errno));
	ret = ioctl(fd, VLQ_IOC_SET_RING, &s) < 0 ? -errno : 0;
	close(fd);
	changed = kernel_target_changed();
	if (changed < 0)
		return setup_error("gupprobe: %s", strerror(errno));
	if (changed || ret != -EFAULT)
		return bug("VLQ_IOC_SET_RING with a kernel used ring returned %ld and changed %d bytes", ret, changed);
	return ok("VLQ_IOC_SET_RING with a kernel used ring returned -EFAULT");
}

/* The driver's scratch buffer, read through the window into `out`; -1 on error. */
static int read_scratch(int fd, uint8_t *out)
{
	struct vlq_win_io rd = { .addr = (uintptr_t)window, .len = SCRATCH_BYTES };

	memset(window, 0, sizeof(window));
	if (ioctl(fd, VLQ_IOC_WIN_READ, &rd))
		return -1;
	memcpy(out, window, SCRATCH_BYTES);
	return 0;
}

/*
 * Uploads 40 entries with `request`, every byte a value the scratch buffer does not hold
 * before; the scratch bytes that hold it afterwards (-1: error).
 */
static int upload(unsigned long request, long *ret)
{
	static uint8_t entries[UPLOAD_ENTRIES * sizeof(struct vlq_entry)];
	struct vlq_table_io io = { .entries = (uintptr_t)entries, .nr = UPLOAD_ENTRIES };
	uint8_t before[SCRATCH_BYTES], after[SCRATCH_BYTES];
	int fd = open_vlq(), marked = 0, mark, i;

	if (fd < 0 || read_scratch(fd, before)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (mark = 0x30; mark < 0x100 && memchr(before, mark, sizeof(before)); mark++)
		;
	if (mark == 0x100) {
		close(fd);
		errno = EEXIST;
		return -1;
	}
	memset(entries, mark, sizeof(entries));
	*ret = ioctl(fd, request, &io) < 0 ? -errno : 0;
	if (read_scratch(fd, after)) {
		close(fd);
		return -1;
	}
	close(fd);
	for (i = 0; i < SCRATCH_BYTES; i++)
		marked += after[i] == mark;
	return marked;
}

static int overflows(unsigned long request, const char *name)
{
	long ret;
	int marked = upload(request, &ret);

	if (marked < 0)
		return setup_error("/dev/vring_lite: %s", strerror(errno));
	if (marked)
		return bug("%s of %d entries into a 32-entry table returned %ld and overwrote %d bytes of "
			   "the scratch buffer after it", name, UPLOAD_ENTRIES, ret, marked);
	return ok("%s of %d entries returned %ld and left the scratch buffer alone", name, UPLOAD_ENTRIES, ret);
}

static int refuses(unsigned long request, const char *name)
{
	long ret;
	int marked = upload(request, &ret);

	if (marked < 0)
		return setup_error("/dev/vring_lite: %s", strerror(errno));
	if (marked || ret != -EINVAL)
		return bug("%s of %d entries returned %ld and overwrote %d scratch bytes", name,
			   UPLOAD_ENTRIES, ret, marked);
	return ok("%s of %d entries into a 32-entry table returned -EINVAL", name, UPLOAD_ENTRIES);
}

static int load_table_overflows_table(void)
{
	return overflows(VLQ_IOC_LOAD_TABLE, "VLQ_IOC_LOAD_TABLE");
}

static int load_array_overflows_table(void)
{
	return overflows(VLQ_IOC_LOAD_ARRAY, "VLQ_IOC_LOAD_ARRAY");
}

static int load_slice_refuses_too_many(void)
{
	return refuses(VLQ_IOC_LOAD_SLICE, "VLQ_IOC_LOAD_SLICE");
}

static int load_bounded_refuses_too_many(void)
{
	return refuses(VLQ_IOC_LOAD_BOUNDED, "VLQ_IOC_LOAD_BOUNDED");
}

static int peek_used_reads_no_user_memory(void)
{
	uint32_t idx = 0xffffffff;
	int fd = open_vlq();
	long ret;

	if (fd < 0)
		return setup_error("/dev/vring_lite: %s", strerror(errno));
	ret = ioctl(fd, VLQ_IOC_PEEK_USED, &idx) < 0 ? -errno : 0;
	close(fd);
	if (ret != 0 || idx == 0xffffffff)
		return bug("VLQ_IOC_PEEK_USED returned %ld and left the index at %#x", ret, idx);
	return ok("VLQ_IOC_PEEK_USED returned the used index %u through put_user()", idx);
}

REPRO_SCENARIOS(
	{ "win-read-raw-writes-kernel-memory", win_read_raw_writes_kernel_memory },
	{ "win-read-refuses-address-outside-window", win_read_refuses_address_outside_window },
	{ "set-ring-refuses-kernel-ring", set_ring_refuses_kernel_ring },
	{ "load-table-overflows-table", load_table_overflows_table },
	{ "load-array-overflows-table", load_array_overflows_table },
	{ "load-slice-refuses-too-many", load_slice_refuses_too_many },
	{ "load-bounded-refuses-too-many", load_bounded_refuses_too_many },
	{ "peek-used-reads-no-user-memory", peek_used_reads_no_user_memory },
)

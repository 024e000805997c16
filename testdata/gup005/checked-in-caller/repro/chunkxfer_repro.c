/*
 * Repro of testdata/gup005/checked-in-caller: requests whose checked field is a kernel address
 * are refused (-EFAULT); RELOAD, whose helper trusts an unchecked source, copies gupprobe's
 * kernel buffer (0xa5 bytes) into the chunk, which a checked STORE then hands to user space;
 * SWAP checks the source but writes to an unchecked destination: the kernel buffer.
 *
 * The chunk outlives each scenario's process (after RELOAD it holds 0xa5, the kernel buffer's
 * own pattern, so writing it there would change nothing): every scenario first fills it with
 * FILL_BYTE through the checked LOAD path.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct chunk_req {
	uint64_t src;
	uint64_t dst;
	uint32_t len;
	uint32_t flags;
};

#define CHUNK_IOC_STORE		_IOW('k', 1, struct chunk_req)
#define CHUNK_IOC_STORE_TWICE	_IOW('k', 2, struct chunk_req)
#define CHUNK_IOC_LOAD		_IOW('k', 3, struct chunk_req)
#define CHUNK_IOC_RELOAD	_IOW('k', 4, struct chunk_req)
#define CHUNK_IOC_SWAP		_IOW('k', 5, struct chunk_req)

#define CHUNK_LEN	64
#define FILL_BYTE	0x5a	/* neither the driver's 0x3c nor the kernel buffer's 0xa5 */

static uint8_t user_buf[CHUNK_LEN];

static long request(int fd, unsigned long cmd, uint64_t src, uint64_t dst)
{
	struct chunk_req req = { .src = src, .dst = dst, .len = CHUNK_LEN };

	return ioctl(fd, cmd, &req) < 0 ? -errno : 0;
}

/* Opens the device and fills the chunk with FILL_BYTE (checked LOAD); -1 on error. */
static int open_filled_chunk(void)
{
	static uint8_t fill[CHUNK_LEN];
	int fd = open("/dev/chunkxfer", O_RDWR);

	memset(fill, FILL_BYTE, sizeof(fill));
	if (fd >= 0 && request(fd, CHUNK_IOC_LOAD, (uintptr_t)fill, 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int reload_reads_kernel_memory(void)
{
	uint64_t target = kernel_target();
	int fd = open_filled_chunk(), leaked = 0, i;
	long ret;

	if (fd < 0 || !target)
		return setup_error("/dev/chunkxfer or gupprobe: %s", strerror(errno));
	memset(user_buf, 0, sizeof(user_buf));
	ret = request(fd, CHUNK_IOC_RELOAD, target, 0);
	if (request(fd, CHUNK_IOC_STORE, 0, (uintptr_t)user_buf)) {
		close(fd);
		return setup_error("CHUNK_IOC_STORE into a valid buffer failed: %s", strerror(errno));
	}
	close(fd);
	for (i = 0; i < CHUNK_LEN; i++)
		leaked += user_buf[i] == 0xa5;
	if (ret == 0 && leaked == CHUNK_LEN)
		return bug("CHUNK_IOC_RELOAD from the kernel address %#llx returned 0 and the chunk then "
			   "held %d bytes of the kernel buffer (0xa5)", (unsigned long long)target, leaked);
	return ok("CHUNK_IOC_RELOAD from a kernel address returned %ld (%d bytes of 0xa5 in the chunk)",
		  ret, leaked);
}

static int swap_writes_kernel_memory(void)
{
	uint64_t target = kernel_target();
	int fd = open_filled_chunk(), changed;
	long ret;

	if (fd < 0 || !target)
		return setup_error("/dev/chunkxfer or gupprobe: %s", strerror(errno));
	ret = request(fd, CHUNK_IOC_SWAP, (uintptr_t)user_buf, target);
	close(fd);
	changed = kernel_target_changed();
	if (changed < 0)
		return setup_error("gupprobe: %s", strerror(errno));
	if (changed)
		return bug("CHUNK_IOC_SWAP with the kernel address %#llx as destination returned %ld and "
			   "wrote %d bytes of kernel memory", (unsigned long long)target, ret, changed);
	return ok("CHUNK_IOC_SWAP with a kernel destination returned %ld and left it unchanged", ret);
}

static int store_refuses_kernel_address(void)
{
	static const unsigned long cmds[] = { CHUNK_IOC_STORE, CHUNK_IOC_STORE_TWICE };
	int fd = open_filled_chunk(), changed;
	unsigned int i;

	if (fd < 0)
		return setup_error("/dev/chunkxfer: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		uint64_t target = kernel_target();
		long ret = target ? request(fd, cmds[i], 0, target) : -1;

		changed = kernel_target_changed();
		if (!target || changed < 0) {
			close(fd);
			return setup_error("gupprobe: %s", strerror(errno));
		}
		if (changed || ret != -EFAULT) {
			close(fd);
			return bug("%s to a kernel address returned %ld and changed %d bytes there",
				   i ? "CHUNK_IOC_STORE_TWICE" : "CHUNK_IOC_STORE", ret, changed);
		}
	}
	close(fd);
	return ok("CHUNK_IOC_STORE and CHUNK_IOC_STORE_TWICE refused a kernel destination with -EFAULT");
}

REPRO_SCENARIOS(
	{ "reload-reads-kernel-memory", reload_reads_kernel_memory },
	{ "swap-writes-kernel-memory", swap_writes_kernel_memory },
	{ "store-refuses-kernel-address", store_refuses_kernel_address },
)

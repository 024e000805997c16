/*
 * Repro of testdata/gup004/ring-length-double-fetch. User space owns every field of the page
 * it maps. Struct mr_ctx keeps, after the 240-byte inbox, replies[16] then stats[16]:
 *   REPLY_UNSAFE with slot 16 writes replies[16], which is stats[0];
 *   PEEK with len 308 copies the message over replies[] and stats[0];
 * and STATS (which masks its own index) reads stats[0] back. The look-alikes refuse or mask
 * the same values; statpage cannot be mapped writable at all.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

#define MR_MSG_MAX	240
#define MR_SLOTS	16
#define MR_IOC_SEND		_IO('m', 1)
#define MR_IOC_REPLY		_IOW('m', 3, uint32_t)
#define MR_IOC_REPLY_UNSAFE	_IOW('m', 4, uint32_t)
#define MR_IOC_PEEK		_IO('m', 5)
#define MR_IOC_STATS		_IO('m', 6)

struct mr_page {
	uint32_t len;
	uint32_t slot;
	uint32_t stat;
	uint8_t msg[MR_MSG_MAX];
};

static struct mr_page *open_page(int *fd)
{
	struct mr_page *page;

	*fd = open("/dev/msgring", O_RDWR);
	if (*fd < 0)
		return NULL;
	page = mmap(NULL, REPRO_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	return page == MAP_FAILED ? NULL : page;
}

/* stats[0] as STATS reports it (it returns the counter after bumping it). */
static long stats0(int fd, struct mr_page *page)
{
	page->stat = 0;
	return ioctl(fd, MR_IOC_STATS) - 1;
}

static int reply_unsafe_writes_past_replies(void)
{
	uint32_t value = 0x12345678;
	struct mr_page *page;
	long before, after, ret;
	int fd;

	page = open_page(&fd);
	if (!page)
		return setup_error("/dev/msgring: %s", strerror(errno));
	before = stats0(fd, page);
	page->slot = MR_SLOTS;
	ret = ioctl(fd, MR_IOC_REPLY_UNSAFE, &value) < 0 ? -errno : 0;
	after = stats0(fd, page);
	close(fd);
	if (after == (long)value)
		return bug("MR_IOC_REPLY_UNSAFE with slot %d from the shared page returned %ld and wrote "
			   "past the %d-entry reply table: stats[0] went from %ld to %#lx",
			   MR_SLOTS, ret, MR_SLOTS, before, after);
	return ok("MR_IOC_REPLY_UNSAFE returned %ld; stats[0] is %ld", ret, after);
}

static int peek_copies_past_inbox(void)
{
	uint32_t len = MR_MSG_MAX + MR_SLOTS * 4 + 4;
	struct mr_page *page;
	char warning[300] = "";
	long after, ret;
	int fd;

	page = open_page(&fd);
	if (!page)
		return setup_error("/dev/msgring: %s", strerror(errno));
	memset(page->msg, 0x41, MR_MSG_MAX);
	memset((uint8_t *)page + sizeof(*page), 0x41, len - MR_MSG_MAX);
	page->len = len;
	ret = ioctl(fd, MR_IOC_PEEK);
	after = stats0(fd, page);
	close(fd);
	kernel_log_find("field-spanning write", warning, sizeof(warning));
	if (after == 0x41414141)
		return bug("MR_IOC_PEEK with len %u from the shared page (the inbox holds %d) returned %ld "
			   "and copied over the reply table into stats[0], now %#lx%s%s",
			   len, MR_MSG_MAX, ret, after, *warning ? "; kernel: " : "", warning);
	return ok("MR_IOC_PEEK returned %ld; stats[0] is %ld", ret, after);
}

static int send_bounds_its_one_fetch(void)
{
	struct mr_page *page;
	long ret, ok_ret;
	int fd;

	page = open_page(&fd);
	if (!page)
		return setup_error("/dev/msgring: %s", strerror(errno));
	page->len = MR_MSG_MAX + 68;
	ret = ioctl(fd, MR_IOC_SEND) < 0 ? -errno : 0;
	page->len = 16;
	ok_ret = ioctl(fd, MR_IOC_SEND);
	close(fd);
	if (ret != -EINVAL || ok_ret != 16)
		return bug("MR_IOC_SEND returned %ld for len %d and %ld for len 16", ret, MR_MSG_MAX + 68, ok_ret);
	return ok("MR_IOC_SEND refused len %d (-EINVAL) and took 16 bytes: its one READ_ONCE() fetch "
		  "is checked and used", MR_MSG_MAX + 68);
}

static int reply_bounds_its_one_fetch(void)
{
	uint32_t value = 0x12345678;
	struct mr_page *page;
	long after, ret;
	int fd;

	page = open_page(&fd);
	if (!page)
		return setup_error("/dev/msgring: %s", strerror(errno));
	page->slot = MR_SLOTS;
	ret = ioctl(fd, MR_IOC_REPLY, &value) < 0 ? -errno : 0;
	after = stats0(fd, page);
	close(fd);
	if (ret != -EINVAL || after != 0)
		return bug("MR_IOC_REPLY with slot %d returned %ld; stats[0] is %ld", MR_SLOTS, ret, after);
	return ok("MR_IOC_REPLY refused slot %d (-EINVAL) and stats[0] stayed 0", MR_SLOTS);
}

static int stats_masks_its_index(void)
{
	struct mr_page *page;
	long first, second;
	int fd;

	page = open_page(&fd);
	if (!page)
		return setup_error("/dev/msgring: %s", strerror(errno));
	page->stat = 0x7fffff03;
	first = ioctl(fd, MR_IOC_STATS);
	page->stat = 3;
	second = ioctl(fd, MR_IOC_STATS);
	close(fd);
	if (first != 1 || second != 2)
		return bug("MR_IOC_STATS with index 0x7fffff03 then 3 returned %ld and %ld", first, second);
	return ok("MR_IOC_STATS masked index 0x7fffff03 to slot 3 (counts %ld, then %ld)", first, second);
}

static int statpage_cannot_be_written(void)
{
	int fd = open("/dev/statpage", O_RDONLY);
	void *rw, *ro;
	int protect;

	if (fd < 0)
		return setup_error("/dev/statpage: %s", strerror(errno));
	rw = mmap(NULL, REPRO_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ro = mmap(NULL, REPRO_PAGE, PROT_READ, MAP_SHARED, fd, 0);
	if (ro == MAP_FAILED)
		return setup_error("mmap(PROT_READ): %s", strerror(errno));
	protect = mprotect(ro, REPRO_PAGE, PROT_READ | PROT_WRITE);
	close(fd);
	if (rw != MAP_FAILED || protect == 0)
		return bug("user space got a writable mapping of the status page");
	return ok("statpage refuses PROT_WRITE mappings and mprotect(PROT_WRITE): user space cannot "
		  "change the field between the driver's two reads");
}

REPRO_SCENARIOS(
	{ "reply-unsafe-writes-past-replies", reply_unsafe_writes_past_replies },
	{ "peek-copies-past-inbox", peek_copies_past_inbox },
	{ "send-bounds-its-one-fetch", send_bounds_its_one_fetch },
	{ "reply-bounds-its-one-fetch", reply_bounds_its_one_fetch },
	{ "stats-masks-its-index", stats_masks_its_index },
	{ "statpage-cannot-be-written", statpage_cannot_be_written },
)

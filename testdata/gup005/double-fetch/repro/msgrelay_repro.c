/*
 * Repro of testdata/gup005/double-fetch. Each scenario arms gupprobe to change a length field
 * in user memory right before the driver's second fetch, as a racing thread would, and shows
 * what the driver does with the second value:
 *   ECHO        copies msg->len (second value) bytes back: heap bytes past the message;
 *   STASH       kmalloc(msg->len = 0) is ZERO_SIZE_PTR, then memcpy(hdr.len) into it: oops;
 *   SEND        sums msg->len (second value) bytes of a small allocation: reads on until an
 *               unmapped address: oops;
 *   LOAD_TABLE  walks tab->nr_entries (second value) entries the same way: oops.
 * The look-alikes get the same change and ignore or reject it.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct relay_msg {
	uint32_t type;
	uint32_t len;
	uint8_t data[];
};

struct relay_entry {
	uint32_t key;
	uint32_t value;
};

struct relay_table {
	uint32_t op;
	uint32_t nr_entries;
	struct relay_entry entries[];
};

#define RELAY_IOC_SEND		_IOW('r', 1, struct relay_msg)
#define RELAY_IOC_SEND_CHECKED	_IOW('r', 2, struct relay_msg)
#define RELAY_IOC_ECHO		_IOWR('r', 3, struct relay_msg)
#define RELAY_IOC_ECHO_FIXED	_IOWR('r', 4, struct relay_msg)
#define RELAY_IOC_SEND_PAYLOAD	_IOW('r', 5, struct relay_msg)
#define RELAY_IOC_LOAD_TABLE	_IOW('r', 6, struct relay_table)
#define RELAY_IOC_TABLE_OP	_IOW('r', 7, struct relay_table)
#define RELAY_IOC_STASH		_IOW('r', 8, struct relay_msg)

#define MARKER	0xee

/* A message of `len` payload bytes ('A'...), followed by MARKER bytes, in its own page. */
static struct relay_msg *message(uint32_t len)
{
	struct relay_msg *msg = map_buffer(REPRO_PAGE);

	if (!msg)
		return NULL;
	memset(msg, MARKER, REPRO_PAGE);
	msg->type = 1;
	msg->len = len;
	memset(msg->data, 'A', len);
	return msg;
}

/*
 * Sends `request` with the length field changed to `second` right before the nth
 * copy_from_user(); returns the ioctl's result (or -errno), and whether the change was made.
 */
static unsigned int copies_short;

static long send_changed(unsigned long request, void *arg, volatile uint32_t *field, uint32_t second,
			 unsigned int nth, int *fired)
{
	struct gupprobe_status status;
	int fd = open("/dev/msgrelay", O_RDWR);
	long ret;

	*fired = 0;
	if (fd < 0)
		return -1000 - errno;
	if (change_before_copy(field, second, nth)) {
		close(fd);
		return -2000 - errno;
	}
	ret = ioctl(fd, request, arg) < 0 ? -errno : 0;
	close(fd);
	*fired = !injection_status(&status) && status.refetch_fired;
	copies_short = status.refetch_left;
	return ret;
}

static int not_set_up(long ret, int fired, const char *name)
{
	if (ret <= -2000)
		return setup_error("gupprobe cannot change the value between the fetches: %s", strerror((int)(-ret - 2000)));
	if (ret <= -1000)
		return setup_error("/dev/msgrelay: %s", strerror((int)(-ret - 1000)));
	if (!fired)
		return setup_error("%s returned %ld before the second fetch: the value was never changed "
				   "(%u copy_from_user() calls short)", name, ret, copies_short);
	return -1;
}

static int echo_returns_heap_past_message(void)
{
	struct relay_msg *msg = message(1);
	int fired, changed = 0, i;
	long ret;

	if (!msg)
		return setup_error("mmap: %s", strerror(errno));
	ret = send_changed(RELAY_IOC_ECHO, msg, &msg->len, 8, 2, &fired);
	if (not_set_up(ret, fired, "RELAY_IOC_ECHO") == 0)
		return 0;
	for (i = 1; i < 8; i++)
		changed += msg->data[i] != MARKER;
	if (ret == 0 && changed)
		return bug("RELAY_IOC_ECHO of a 1-byte message whose length became 8 after the first fetch "
			   "wrote 8 bytes back: %d bytes past the message came from the kernel's allocation "
			   "(%02x %02x %02x ...)", changed, msg->data[1], msg->data[2], msg->data[3]);
	return ok("RELAY_IOC_ECHO returned %ld and wrote nothing past the 1-byte message", ret);
}

static int echo_fixed_keeps_first_length(void)
{
	struct relay_msg *msg = message(1);
	int fired, changed = 0, i;
	long ret;

	if (!msg)
		return setup_error("mmap: %s", strerror(errno));
	ret = send_changed(RELAY_IOC_ECHO_FIXED, msg, &msg->len, 8, 2, &fired);
	if (not_set_up(ret, fired, "RELAY_IOC_ECHO_FIXED") == 0)
		return 0;
	for (i = 1; i < 8; i++)
		changed += msg->data[i] != MARKER;
	if (changed)
		return bug("RELAY_IOC_ECHO_FIXED returned %ld and wrote %d bytes past the 1-byte message", ret, changed);
	return ok("RELAY_IOC_ECHO_FIXED returned %ld and echoed only the validated byte although the "
		  "length became 8 after the first fetch", ret);
}

static int send_checked_rejects_changed_length(void)
{
	struct relay_msg *msg = message(16);
	int fired;
	long ret;

	if (!msg)
		return setup_error("mmap: %s", strerror(errno));
	ret = send_changed(RELAY_IOC_SEND_CHECKED, msg, &msg->len, 0x7ffffff0, 2, &fired);
	if (not_set_up(ret, fired, "RELAY_IOC_SEND_CHECKED") == 0)
		return 0;
	if (ret != -EINVAL)
		return bug("RELAY_IOC_SEND_CHECKED returned %ld for a length changed between the fetches", ret);
	return ok("RELAY_IOC_SEND_CHECKED saw the length change between the fetches and returned -EINVAL");
}

static int send_payload_fetches_header_once(void)
{
	struct relay_msg *msg = message(16);
	int fired;
	long ret;

	if (!msg)
		return setup_error("mmap: %s", strerror(errno));
	/* The second copy is the payload's: the header's length is not fetched again. */
	ret = send_changed(RELAY_IOC_SEND_PAYLOAD, msg, &msg->len, 0x7ffffff0, 2, &fired);
	if (not_set_up(ret, fired, "RELAY_IOC_SEND_PAYLOAD") == 0)
		return 0;
	if (ret != 0)
		return bug("RELAY_IOC_SEND_PAYLOAD returned %ld", ret);
	return ok("RELAY_IOC_SEND_PAYLOAD returned 0 using the length of its single header fetch "
		  "(the field changed to 0x7ffffff0 before the payload copy)");
}

static int table_op_fetches_fields_once(void)
{
	struct relay_table *tab = map_buffer(REPRO_PAGE);
	int fd = open("/dev/msgrelay", O_RDWR);
	long ret;

	if (!tab || fd < 0)
		return setup_error("/dev/msgrelay: %s", strerror(errno));
	tab->op = 1;
	tab->nr_entries = 4;
	ret = ioctl(fd, RELAY_IOC_TABLE_OP, tab) < 0 ? -errno : 0;
	close(fd);
	if (ret != 0)
		return bug("RELAY_IOC_TABLE_OP returned %ld", ret);
	return ok("RELAY_IOC_TABLE_OP fetched op and nr_entries once each and returned 0");
}

/* The scenarios below oops the kernel when the bug shows: nothing is printed after the call. */

static int send_loops_over_second_length(void)
{
	struct relay_msg *msg = message(8);
	int fired;
	long ret;

	if (!msg)
		return setup_error("mmap: %s", strerror(errno));
	ret = send_changed(RELAY_IOC_SEND, msg, &msg->len, 0xfffffff0, 2, &fired);
	if (not_set_up(ret, fired, "RELAY_IOC_SEND") == 0)
		return 0;
	return ok("RELAY_IOC_SEND returned %ld after summing a length changed to 0xfffffff0", ret);
}

static int stash_sized_from_second_length(void)
{
	struct relay_msg *msg = message(64);
	int fired;
	long ret;

	if (!msg)
		return setup_error("mmap: %s", strerror(errno));
	ret = send_changed(RELAY_IOC_STASH, msg, &msg->len, 0, 2, &fired);
	if (not_set_up(ret, fired, "RELAY_IOC_STASH") == 0)
		return 0;
	return ok("RELAY_IOC_STASH returned %ld with the length changed from 64 to 0", ret);
}

static int load_table_loops_over_second_count(void)
{
	struct relay_table *tab = map_buffer(REPRO_PAGE);
	int fired;
	long ret;

	if (!tab)
		return setup_error("mmap: %s", strerror(errno));
	tab->nr_entries = 2;
	/* The first fetch is get_user(), the second the first copy_from_user(). */
	ret = send_changed(RELAY_IOC_LOAD_TABLE, tab, &tab->nr_entries, 0xfffffff0, 1, &fired);
	if (not_set_up(ret, fired, "RELAY_IOC_LOAD_TABLE") == 0)
		return 0;
	return ok("RELAY_IOC_LOAD_TABLE returned %ld with the count changed from 2 to 0xfffffff0", ret);
}

REPRO_SCENARIOS(
	{ "echo-returns-heap-past-message", echo_returns_heap_past_message },
	{ "echo-fixed-keeps-first-length", echo_fixed_keeps_first_length },
	{ "send-checked-rejects-changed-length", send_checked_rejects_changed_length },
	{ "send-payload-fetches-header-once", send_payload_fetches_header_once },
	{ "table-op-fetches-fields-once", table_op_fetches_fields_once },
	{ "send-loops-over-second-length", send_loops_over_second_length },
	{ "stash-sized-from-second-length", stash_sized_from_second_length },
	{ "load-table-loops-over-second-count", load_table_loops_over_second_count },
)

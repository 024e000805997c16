/*
 * Repro of testdata/gup005/double-fetch-in-callee: an 8-byte command whose length gupprobe
 * raises to 2048 right before the driver's second copy_from_user(). STASH hands the second copy
 * to a helper that copies cmd->len bytes: the stash then holds 2048 bytes, most of them kernel
 * heap past the 16-byte command (or the read runs off the heap: an oops). The look-alikes keep
 * 8 bytes, refuse the command, or never look at the length.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

struct cmd_hdr {
	uint32_t op;
	uint32_t len;
	uint8_t body[];
};

struct cmd_fetch {
	uint64_t buf;
	uint32_t size;
	uint32_t len;
};

#define CMD_IOC_STASH		_IOW('c', 1, struct cmd_hdr)
#define CMD_IOC_STASH_FIXED	_IOW('c', 2, struct cmd_hdr)
#define CMD_IOC_STASH_CHECKED	_IOW('c', 3, struct cmd_hdr)
#define CMD_IOC_NOTE		_IOW('c', 4, struct cmd_hdr)
#define CMD_IOC_FETCH		_IOWR('c', 5, struct cmd_fetch)

#define FIRST_LEN	8
#define SECOND_LEN	2048

static unsigned int copies_short;

/* An 8-byte command in its own page. */
static struct cmd_hdr *command(void)
{
	struct cmd_hdr *cmd = map_buffer(REPRO_PAGE);

	if (!cmd)
		return NULL;
	cmd->op = 7;
	cmd->len = FIRST_LEN;
	memset(cmd->body, 'C', FIRST_LEN);
	return cmd;
}

/* Sends `request` with the length raised right before the second fetch; the ioctl's result or
 * -errno (-1000-: no device, -2000-: no gupprobe); *fired says whether the change was made. */
static long send_changed(int fd, unsigned long request, struct cmd_hdr *cmd, int *fired)
{
	struct gupprobe_status status;
	long ret;

	*fired = 0;
	if (change_before_copy(&cmd->len, SECOND_LEN, 2))
		return -2000 - errno;
	ret = ioctl(fd, request, cmd) < 0 ? -errno : 0;
	*fired = !injection_status(&status) && status.refetch_fired;
	copies_short = status.refetch_left;
	return ret;
}

/* The stash's length as CMD_IOC_FETCH reports it; -1 on error. */
static long stash_len(int fd)
{
	static uint8_t out[16];
	struct cmd_fetch f = { .buf = (uintptr_t)out, .size = sizeof(out) };

	if (ioctl(fd, CMD_IOC_FETCH, &f))
		return -1;
	return f.len;
}

/* Runs one scenario: the result of `request`, and the stash length before and after. */
static int run(unsigned long request, const char *name, long *ret, long *before, long *after)
{
	struct cmd_hdr *cmd = command();
	int fd = open("/dev/cmdstash", O_RDWR), fired;

	if (fd < 0 || !cmd)
		return setup_error("/dev/cmdstash: %s", strerror(errno));
	*before = stash_len(fd);
	*ret = send_changed(fd, request, cmd, &fired);
	*after = stash_len(fd);
	close(fd);
	if (*ret <= -2000)
		return setup_error("gupprobe cannot change the length between the fetches: %s",
				   strerror((int)(-*ret - 2000)));
	if (!fired)
		return setup_error("%s returned %ld before the second fetch: the length was never changed "
				   "(%u copy_from_user() calls short)", name, *ret, copies_short);
	return -1;
}

static int stash_keeps_second_length(void)
{
	long ret, before, after;
	int verdict = run(CMD_IOC_STASH, "CMD_IOC_STASH", &ret, &before, &after);

	if (verdict >= 0)
		return verdict;
	if (ret == 0 && after == SECOND_LEN)
		return bug("CMD_IOC_STASH of an 8-byte command whose length became %d after the first "
			   "fetch stashed %ld bytes: the helper copied past the 16-byte command",
			   SECOND_LEN, after);
	return ok("CMD_IOC_STASH returned %ld and the stash holds %ld bytes", ret, after);
}

static int stash_fixed_keeps_first_length(void)
{
	long ret, before, after;
	int verdict = run(CMD_IOC_STASH_FIXED, "CMD_IOC_STASH_FIXED", &ret, &before, &after);

	if (verdict >= 0)
		return verdict;
	if (ret != 0 || after != FIRST_LEN)
		return bug("CMD_IOC_STASH_FIXED returned %ld and stashed %ld bytes", ret, after);
	return ok("CMD_IOC_STASH_FIXED stashed the 8 validated bytes although the length changed");
}

static int stash_checked_rejects_changed_length(void)
{
	long ret, before, after;
	int verdict = run(CMD_IOC_STASH_CHECKED, "CMD_IOC_STASH_CHECKED", &ret, &before, &after);

	if (verdict >= 0)
		return verdict;
	if (ret != -EINVAL || after != before)
		return bug("CMD_IOC_STASH_CHECKED returned %ld and the stash went from %ld to %ld bytes",
			   ret, before, after);
	return ok("CMD_IOC_STASH_CHECKED saw the length change and returned -EINVAL");
}

static int note_ignores_changed_length(void)
{
	long ret, before, after;
	int verdict = run(CMD_IOC_NOTE, "CMD_IOC_NOTE", &ret, &before, &after);

	if (verdict >= 0)
		return verdict;
	if (ret != 0 || after != before)
		return bug("CMD_IOC_NOTE returned %ld and the stash went from %ld to %ld bytes", ret, before, after);
	return ok("CMD_IOC_NOTE used only the command's op and left the stash alone");
}

REPRO_SCENARIOS(
	{ "stash-keeps-second-length", stash_keeps_second_length },
	{ "stash-fixed-keeps-first-length", stash_fixed_keeps_first_length },
	{ "stash-checked-rejects-changed-length", stash_checked_rejects_changed_length },
	{ "note-ignores-changed-length", note_ignores_changed_length },
)

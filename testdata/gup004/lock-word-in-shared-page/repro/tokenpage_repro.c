/*
 * Repro of testdata/gup004/lock-word-in-shared-page. The parent replays bump_slot(): it takes
 * the token, bumps a slot, releases the token, and then (line 30) writes slots[0]. By then a
 * child holds the token and has put its own value in slots[0]: the parent's late write lands
 * in the child's critical section. While one process holds the token, TP_IOC_ACQUIRE keeps
 * the other out, so the bracketed accesses (lines 26-27) cannot interleave.
 */
#include <stdio.h>

#include "gupcheck_repro.h"
#include "tokenpage_uapi.h"

static struct tp_page *open_page(int *fd)
{
	struct tp_page *page;

	*fd = open("/dev/tokenpage", O_RDWR);
	if (*fd < 0)
		return NULL;
	page = mmap(NULL, REPRO_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	return page == MAP_FAILED ? NULL : page;
}

static int write_after_release_clobbers_the_holder(void)
{
	int to_child[2], to_parent[2], fd, status = 0;
	struct tp_page *page = open_page(&fd);
	uint64_t before;
	pid_t child;
	char go;

	if (!page || pipe(to_child) || pipe(to_parent))
		return setup_error("/dev/tokenpage: %s", strerror(errno));
	if (ioctl(fd, TP_IOC_ACQUIRE))
		return setup_error("TP_IOC_ACQUIRE: %s", strerror(errno));
	before = page->slots[3];
	page->slots[3] = before + 1;
	ioctl(fd, TP_IOC_RELEASE);
	child = fork();
	if (child == 0) {		/* the next holder */
		int cfd = open("/dev/tokenpage", O_RDWR);
		int held = ioctl(cfd, TP_IOC_ACQUIRE) == 0;

		int kept;

		page->slots[0] = 42;
		if (write(to_parent[1], "h", 1) != 1 || read(to_child[0], &go, 1) != 1)
			_exit(3);
		kept = page->slots[0] == 42;
		if (held)
			ioctl(cfd, TP_IOC_RELEASE);
		_exit(!held ? 2 : kept ? 0 : 1);
	}
	close(to_parent[1]);
	close(to_child[0]);
	if (read(to_parent[0], &go, 1) != 1)
		return setup_error("the child never took the token");
	page->slots[0] = before;	/* tokenpage_app.c, line 30 */
	if (write(to_child[1], "g", 1) != 1)
		return setup_error("pipe: %s", strerror(errno));
	waitpid(child, &status, 0);
	close(fd);
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
		return setup_error("the child could not take the token (status %#x)", status);
	if (WEXITSTATUS(status) == 1)
		return bug("after releasing the token, the write to slots[0] landed while another process "
			   "held it: the holder's 42 became %llu", (unsigned long long)before);
	return ok("the holder's slots[0] kept its value");
}

static int token_keeps_a_second_process_out(void)
{
	int fd, to_parent[2], status = 0;
	struct tp_page *page = open_page(&fd);
	pid_t child;
	long ret;
	char go;

	if (!page || pipe(to_parent))
		return setup_error("/dev/tokenpage: %s", strerror(errno));
	child = fork();
	if (child == 0) {
		int cfd = open("/dev/tokenpage", O_RDWR);

		if (ioctl(cfd, TP_IOC_ACQUIRE) || write(to_parent[1], "h", 1) != 1)
			_exit(1);
		usleep(200000);
		ioctl(cfd, TP_IOC_RELEASE);
		_exit(0);
	}
	close(to_parent[1]);
	if (read(to_parent[0], &go, 1) != 1)
		return setup_error("the child could not take the token (is it still held?)");
	ret = ioctl(fd, TP_IOC_ACQUIRE) < 0 ? -errno : 0;
	waitpid(child, &status, 0);
	if (ret == 0)
		ioctl(fd, TP_IOC_RELEASE);
	close(fd);
	if (ret != -EBUSY)
		return bug("TP_IOC_ACQUIRE returned %ld while another process held the token", ret);
	return ok("TP_IOC_ACQUIRE returned -EBUSY while another process held the token: the accesses "
		  "between ACQUIRE and RELEASE cannot interleave");
}

REPRO_SCENARIOS(
	{ "write-after-release-clobbers-the-holder", write_after_release_clobbers_the_holder },
	{ "token-keeps-a-second-process-out", token_keeps_a_second_process_out },
)

/*
 * Repro of testdata/gup004/lock-ioctl-bracket. The parent takes the board with SHM_IOC_LOCK
 * and starts a notice; a child then does what shmlock_app.c does: outside any
 * SHM_IOC_LOCK...SHM_IOC_UNLOCK bracket it clears the board (lines 76, 78), or reads it
 * (line 77) while the holder is between the two stores of post_notice(). Inside a bracket,
 * or through SHM_IOC_BUMP, the child waits until the holder lets go.
 */
#include <stdio.h>

#include "gupcheck_repro.h"
#include "shmlock_uapi.h"

struct shared_flags {
	volatile int released;	/* the holder has finished with the board */
	volatile int saw_released;
	volatile uint32_t len;
	char text[SHM_TEXT_MAX];
};

static struct shm_board *open_board(int *fd)
{
	struct shm_board *board;

	*fd = open("/dev/shmlock", O_RDWR);
	if (*fd < 0)
		return NULL;
	board = mmap(NULL, REPRO_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	return board == MAP_FAILED ? NULL : board;
}

static struct shared_flags *shared_flags(void)
{
	void *flags = mmap(NULL, REPRO_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return flags == MAP_FAILED ? NULL : memset(flags, 0, sizeof(struct shared_flags));
}

static void post(struct shm_board *board, const char *text)
{
	memcpy(board->text, text, strlen(text));
	board->len = strlen(text);
}

static int unlocked_writes_clobber_the_holder(void)
{
	struct shm_board *board;
	uint32_t len;
	pid_t child;
	int fd;

	board = open_board(&fd);
	if (!board || ioctl(fd, SHM_IOC_LOCK))
		return setup_error("/dev/shmlock: %s", strerror(errno));
	post(board, "holder's notice");
	child = fork();
	if (child == 0) {		/* shmlock_app.c, lines 76 and 78 */
		board->len = 0;
		memset(board->text, 0, SHM_TEXT_MAX);
		_exit(0);
	}
	waitpid(child, NULL, 0);
	len = board->len;
	ioctl(fd, SHM_IOC_UNLOCK);
	close(fd);
	if (len != strlen("holder's notice"))
		return bug("the process holding SHM_IOC_LOCK found its notice gone (len %u, text \"%.15s\"): "
			   "another process cleared the board without taking the lock", len, board->text);
	return ok("the holder's notice survived the other process");
}

static int unlocked_read_sees_half_a_notice(void)
{
	struct shared_flags *seen = shared_flags();
	struct shm_board *board;
	pid_t child;
	int fd;

	board = open_board(&fd);
	if (!board || !seen || ioctl(fd, SHM_IOC_LOCK))
		return setup_error("/dev/shmlock: %s", strerror(errno));
	memset(board->text, 0, SHM_TEXT_MAX);
	post(board, "first notice, long");
	memcpy(board->text, "second", 6);	/* post_notice() between its two stores */
	child = fork();
	if (child == 0) {		/* shmlock_app.c, line 77 */
		seen->len = board->len;
		memcpy(seen->text, board->text, board->len < SHM_TEXT_MAX ? board->len : SHM_TEXT_MAX);
		_exit(0);
	}
	waitpid(child, NULL, 0);
	board->len = 6;
	ioctl(fd, SHM_IOC_UNLOCK);
	close(fd);
	if (seen->len != 6 && !strncmp(seen->text, "second", 6))
		return bug("a read outside the bracket, while the holder was between the two stores of its "
			   "notice, saw len %u with the new text: \"%.*s\", a notice nobody posted",
			   seen->len, (int)seen->len, seen->text);
	return ok("the read outside the bracket saw len %u", seen->len);
}

/* The child enters the board (LOCK, or BUMP inside the driver) while the parent holds it. */
static int waits_for_the_holder(int bump)
{
	struct shared_flags *flags = shared_flags();
	struct shm_board *board;
	uint32_t generation, during;
	pid_t child;
	int fd;

	board = open_board(&fd);
	if (!board || !flags || ioctl(fd, SHM_IOC_LOCK))
		return setup_error("/dev/shmlock: %s", strerror(errno));
	post(board, "holder's notice");
	generation = board->generation;
	child = fork();
	if (child == 0) {
		int cfd = open("/dev/shmlock", O_RDWR);

		if (bump) {
			ioctl(cfd, SHM_IOC_BUMP);
		} else {
			ioctl(cfd, SHM_IOC_LOCK);	/* shmlock_app.c, lines 57-68 */
			board->len = 0;
			ioctl(cfd, SHM_IOC_UNLOCK);
		}
		flags->saw_released = flags->released;
		_exit(0);
	}
	usleep(200000);
	during = board->generation;
	flags->released = 1;
	if (board->len != strlen("holder's notice") || during != generation) {
		ioctl(fd, SHM_IOC_UNLOCK);
		waitpid(child, NULL, 0);
		return bug("the board changed while its holder had it (len %u, generation %u -> %u)",
			   board->len, generation, during);
	}
	ioctl(fd, SHM_IOC_UNLOCK);
	waitpid(child, NULL, 0);
	close(fd);
	if (!flags->saw_released)
		return bug("the %s returned before the holder released the board", bump ? "BUMP" : "LOCK");
	return ok("%s waited until the holder had released the board (held 200 ms, board untouched)",
		  bump ? "SHM_IOC_BUMP" : "the other process's SHM_IOC_LOCK");
}

static int bracketed_access_waits_for_the_holder(void)
{
	return waits_for_the_holder(0);
}

static int bump_waits_for_the_holder(void)
{
	return waits_for_the_holder(1);
}

REPRO_SCENARIOS(
	{ "unlocked-writes-clobber-the-holder", unlocked_writes_clobber_the_holder },
	{ "unlocked-read-sees-half-a-notice", unlocked_read_sees_half_a_notice },
	{ "bracketed-access-waits-for-the-holder", bracketed_access_waits_for_the_holder },
	{ "bump-waits-for-the-holder", bump_waits_for_the_holder },
)

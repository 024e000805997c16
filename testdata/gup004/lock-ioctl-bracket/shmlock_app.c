/*
 * GUP004 case "lock-ioctl-bracket", userland side: the board is mapped
 * MAP_SHARED. Writing a notice between SHM_IOC_LOCK and SHM_IOC_UNLOCK
 * (directly, through wrappers, or in a helper called only inside the
 * bracket) is clean; reading or writing the board outside the bracket is
 * flagged.
 */
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "shmlock_uapi.h"

static int board_lock(int fd)
{
	return ioctl(fd, SHM_IOC_LOCK, 0);
}

static void board_unlock(int fd)
{
	if (ioctl(fd, SHM_IOC_UNLOCK, 0) < 0)
		perror("SHM_IOC_UNLOCK");
}

/* Only ever called with the board taken. */
static void post_notice(struct shm_board *board, const char *text)
{
	size_t len = strlen(text);

	if (len > SHM_TEXT_MAX)
		len = SHM_TEXT_MAX;
	memcpy(board->text, text, len);
	board->len = len;
}

int main(int argc, char **argv)
{
	struct shm_board *board;
	unsigned int seen;
	int fd;

	fd = open("/dev/shmlock", O_RDWR);
	if (fd < 0) {
		perror("/dev/shmlock");
		return 1;
	}
	board = mmap(NULL, sizeof(*board), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (board == MAP_FAILED) {
		perror("mmap");
		return 1;
	}

	/* Negative: inside the bracket, through the wrappers. */
	if (board_lock(fd) < 0) {
		perror("SHM_IOC_LOCK");
		return 1;
	}
	post_notice(board, argc > 1 ? argv[1] : "hello");
	board_unlock(fd);

	/* Negative: inside the bracket, calling ioctl() directly. */
	if (ioctl(fd, SHM_IOC_LOCK, 0) < 0)
		return 1;
	seen = board->generation;
	ioctl(fd, SHM_IOC_UNLOCK, 0);
	printf("generation %u\n", seen);

	/* Negative: BUMP takes and drops the lock inside the driver. */
	if (ioctl(fd, SHM_IOC_BUMP, 0) < 0)
		perror("SHM_IOC_BUMP");

	/* Positive: outside the bracket. */
	board->len = 0; /* expect: GUP004 */
	printf("notice: %u bytes\n", board->len); /* expect: GUP004 */
	memset(board->text, 0, SHM_TEXT_MAX); /* expect: GUP004 */

	munmap(board, sizeof(*board));
	close(fd);
	return 0;
}

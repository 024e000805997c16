/*
 * GUP002 case "stack-array-direct", userland side. The mailbox passed to
 * PP_IOC_ATTACH stays pinned by the driver after the ioctl: a stack array
 * there is flagged (its frame dies, the device keeps writing into it).
 * Clean look-alikes: a stack array passed to PP_IOC_POKE (pinned only during
 * the call), and a heap buffer attached in this program, which never forks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "pagepoke_uapi.h"

/* Positive: a stack array attached as the mailbox. */
static int attach_scratch_mailbox(int fd)
{
	char buf[4096];
	uint32_t seq;

	memset(buf, 0, sizeof(buf));
	if (ioctl(fd, PP_IOC_ATTACH, buf) < 0) { /* expect: GUP002 */
		perror("PP_IOC_ATTACH");
		return -1;
	}
	if (ioctl(fd, PP_IOC_TICK, 0) < 0)
		perror("PP_IOC_TICK");
	memcpy(&seq, buf, sizeof(seq));
	printf("scratch mailbox: seq %u\n", seq);
	return 0;	/* buf goes out of scope, the page stays attached */
}

/* Negative: POKE pins the stack array only for the duration of the call. */
static int poke_once(int fd)
{
	char tmp[64];
	uint32_t seq;

	memset(tmp, 0, sizeof(tmp));
	if (ioctl(fd, PP_IOC_POKE, tmp) < 0) {
		perror("PP_IOC_POKE");
		return -1;
	}
	memcpy(&seq, tmp, sizeof(seq));
	printf("poke: seq %u\n", seq);
	return 0;
}

/* Negative: heap mailbox, and nothing in this program forks. */
static int attach_heap_mailbox(int fd)
{
	char *mbox = malloc(4096);
	uint32_t seq;

	if (!mbox)
		return -1;
	memset(mbox, 0, 4096);
	if (ioctl(fd, PP_IOC_ATTACH, mbox) < 0) {
		perror("PP_IOC_ATTACH");
		free(mbox);
		return -1;
	}
	if (ioctl(fd, PP_IOC_TICK, 0) < 0)
		perror("PP_IOC_TICK");
	memcpy(&seq, mbox, sizeof(seq));
	printf("heap mailbox: seq %u\n", seq);
	if (ioctl(fd, PP_IOC_DETACH, 0) < 0)
		perror("PP_IOC_DETACH");
	free(mbox);
	return 0;
}

int main(void)
{
	int fd = open("/dev/pagepoke", O_RDWR);

	if (fd < 0) {
		perror("/dev/pagepoke");
		return 1;
	}
	poke_once(fd);
	attach_scratch_mailbox(fd);
	if (ioctl(fd, PP_IOC_DETACH, 0) < 0)
		perror("PP_IOC_DETACH");
	attach_heap_mailbox(fd);
	close(fd);
	return 0;
}

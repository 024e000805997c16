/*
 * GUP004 case "lock-word-in-shared-page", userland side: the slots are
 * updated between TP_IOC_ACQUIRE and TP_IOC_RELEASE (clean), except for one
 * store made after the release (flagged). Reading the page before mapping it
 * is impossible; a stack copy of a slot is ordinary memory (clean).
 */
#include <stdio.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "tokenpage_uapi.h"

static struct tp_page *page;

static int bump_slot(int fd, unsigned int slot)
{
	uint64_t before;

	if (slot >= TP_SLOTS)
		return -1;
	if (ioctl(fd, TP_IOC_ACQUIRE, 0) < 0)
		return -1;
	before = page->slots[slot];
	page->slots[slot] = before + 1;
	if (ioctl(fd, TP_IOC_RELEASE, 0) < 0)
		return -1;
	page->slots[0] = before; /* expect: GUP004 */
	printf("slot %u: %llu\n", slot, (unsigned long long)before);
	return 0;
}

int main(void)
{
	int fd = open("/dev/tokenpage", O_RDWR);

	if (fd < 0) {
		perror("/dev/tokenpage");
		return 1;
	}
	page = mmap(NULL, sizeof(*page), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (page == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	bump_slot(fd, 3);
	munmap(page, sizeof(*page));
	close(fd);
	return 0;
}

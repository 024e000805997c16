/*
 * GUP003 case "heap-with-and-without-dontfork", userland side. Three capture
 * buffers are registered with CR_IOC_REGISTER (FOLL_GET references kept by
 * the driver), then the program forks a logger child. After the fork the
 * parent's first write to a registered page copies it and the device keeps
 * writing into the old page.
 *   A: malloc'd, no madvise                      -> flagged
 *   B: posix_memalign'd + madvise(MADV_DONTFORK) -> clean
 *   C: the device's own mmap(MAP_SHARED, fd)     -> clean
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "capring_uapi.h"

#define BUF_BYTES	(64 * 1024)

static pid_t start_logger(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		printf("logger %d running\n", (int)getpid());
		_exit(0);
	}
	return pid;
}

int main(void)
{
	struct cr_region ra, rb, rc;
	void *b = NULL;
	char *a, *c;
	pid_t child;
	int fd;

	fd = open("/dev/capring", O_RDWR);
	if (fd < 0) {
		perror("/dev/capring");
		return 1;
	}

	/* A: plain heap buffer, not protected from fork. */
	a = malloc(BUF_BYTES);
	if (!a)
		return 1;
	memset(a, 0, BUF_BYTES);
	memset(&ra, 0, sizeof(ra));
	ra.addr = (uint64_t)(uintptr_t)a;
	ra.len = BUF_BYTES;
	ra.slot = 0;
	if (ioctl(fd, CR_IOC_REGISTER, &ra) < 0) /* expect: GUP003 */
		perror("CR_IOC_REGISTER A");

	/* B: page-aligned heap buffer kept out of the child. */
	if (posix_memalign(&b, 4096, BUF_BYTES))
		return 1;
	if (madvise(b, BUF_BYTES, MADV_DONTFORK))
		perror("madvise");
	memset(&rb, 0, sizeof(rb));
	rb.addr = (uint64_t)(uintptr_t)b;
	rb.len = BUF_BYTES;
	rb.slot = 1;
	if (ioctl(fd, CR_IOC_REGISTER, &rb) < 0)
		perror("CR_IOC_REGISTER B");

	/* C: the device's own shared mapping. */
	c = mmap(NULL, CR_RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(&rc, 0, sizeof(rc));
	rc.addr = (uint64_t)(uintptr_t)c;
	rc.len = CR_RING_BYTES;
	rc.slot = 2;
	if (ioctl(fd, CR_IOC_REGISTER, &rc) < 0)
		perror("CR_IOC_REGISTER C");

	child = start_logger();
	if (child > 0)
		waitpid(child, NULL, 0);

	a[0] = 1;		/* parent writes: A is now a private copy */
	((char *)b)[0] = 1;
	c[0] = 1;
	if (ioctl(fd, CR_IOC_CAPTURE, 0) < 0)
		perror("CR_IOC_CAPTURE");
	printf("A %d B %d C %d\n", a[0], ((char *)b)[0], c[0]);

	munmap(c, CR_RING_BYTES);
	close(fd);
	free(b);
	free(a);
	return 0;
}

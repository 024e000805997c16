/*
 * GUP003 case "foll-pin-is-fork-safe", userland side: two heap buffers are
 * mapped for the accelerator, then the program forks a worker. Neither has
 * MADV_DONTFORK.
 *   weights (malloc)   -> AM_IOC_MAP, FOLL_PIN | FOLL_LONGTERM: clean on 6.1
 *                         (fork copies FOLL_PIN-pinned pages eagerly since 5.9)
 *   scratch (anonymous mmap) -> AM_IOC_MAP_LEGACY, FOLL_GET references: flagged
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

#include "accmem_uapi.h"

#define WEIGHTS_BYTES	(1024 * 1024)
#define SCRATCH_BYTES	(256 * 1024)

int main(void)
{
	struct am_map wmap, smap;
	float *weights;
	char *scratch;
	pid_t pid;
	int fd;

	fd = open("/dev/accmem", O_RDWR);
	if (fd < 0) {
		perror("/dev/accmem");
		return 1;
	}

	weights = malloc(WEIGHTS_BYTES);
	if (!weights)
		return 1;
	memset(weights, 0, WEIGHTS_BYTES);
	memset(&wmap, 0, sizeof(wmap));
	wmap.addr = (uint64_t)(uintptr_t)weights;
	wmap.len = WEIGHTS_BYTES;
	if (ioctl(fd, AM_IOC_MAP, &wmap) < 0)
		perror("AM_IOC_MAP");

	scratch = mmap(NULL, SCRATCH_BYTES, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(&smap, 0, sizeof(smap));
	smap.addr = (uint64_t)(uintptr_t)scratch;
	smap.len = SCRATCH_BYTES;
	if (ioctl(fd, AM_IOC_MAP_LEGACY, &smap) < 0) /* expect: GUP003 */
		perror("AM_IOC_MAP_LEGACY");

	pid = fork();
	if (pid == 0) {
		printf("worker %d\n", (int)getpid());
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);

	weights[0] = 1.0f;	/* stays coherent with the device (FOLL_PIN) */
	scratch[0] = 1;		/* a private copy now: the device no longer sees it */

	ioctl(fd, AM_IOC_UNMAP, &smap.handle);
	ioctl(fd, AM_IOC_UNMAP, &wmap.handle);
	munmap(scratch, SCRATCH_BYTES);
	free(weights);
	close(fd);
	return 0;
}

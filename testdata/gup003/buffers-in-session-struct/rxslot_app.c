/*
 * GUP003 case "buffers-in-session-struct", userland side. A session keeps its two receive
 * buffers in a struct that a setup function fills; another function registers them with the
 * driver, which keeps FOLL_GET references on their pages. Then the program forks a helper.
 *   rx: posix_memalign'd into the session, no madvise      -> flagged
 *   ctl: aligned_alloc'd into the session + MADV_DONTFORK  -> clean
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

#include "rxslot_uapi.h"

#define RX_BYTES	(16 * 4096)
#define CTL_BYTES	(4 * 4096)

struct session {
	int fd;
	void *rx;
	char *ctl;
};

static int session_setup(struct session *s)
{
	s->fd = open("/dev/rxslot", O_RDWR);
	if (s->fd < 0)
		return -1;
	if (posix_memalign(&s->rx, 4096, RX_BYTES))
		return -1;
	s->ctl = aligned_alloc(4096, CTL_BYTES);
	if (!s->ctl)
		return -1;
	if (madvise(s->ctl, CTL_BYTES, MADV_DONTFORK))
		return -1;
	memset(s->rx, 0, RX_BYTES);
	memset(s->ctl, 0, CTL_BYTES);
	return 0;
}

static int session_register(struct session *s)
{
	struct rxslot_region rx_region, ctl_region;

	memset(&rx_region, 0, sizeof(rx_region));
	rx_region.addr = (uint64_t)(uintptr_t)s->rx;
	rx_region.len = RX_BYTES;
	rx_region.slot = 0;
	if (ioctl(s->fd, RXSLOT_IOC_REGISTER, &rx_region) < 0) /* expect: GUP003 */
		return -1;

	memset(&ctl_region, 0, sizeof(ctl_region));
	ctl_region.addr = (uint64_t)(uintptr_t)s->ctl;
	ctl_region.len = CTL_BYTES;
	ctl_region.slot = 1;
	if (ioctl(s->fd, RXSLOT_IOC_REGISTER, &ctl_region) < 0)
		return -1;
	return 0;
}

int main(void)
{
	struct session s;
	pid_t helper;

	memset(&s, 0, sizeof(s));
	if (session_setup(&s) || session_register(&s)) {
		perror("rxslot");
		return 1;
	}
	helper = fork();
	if (helper == 0) {
		execlp("true", "true", (char *)NULL);
		_exit(127);
	}
	if (helper > 0)
		waitpid(helper, NULL, 0);
	((char *)s.rx)[0] = 1;
	s.ctl[0] = 1;
	if (ioctl(s.fd, RXSLOT_IOC_FILL) < 0)
		perror("RXSLOT_IOC_FILL");
	printf("rx %d ctl %d\n", ((char *)s.rx)[0], s.ctl[0]);
	close(s.fd);
	free(s.ctl);
	free(s.rx);
	return 0;
}

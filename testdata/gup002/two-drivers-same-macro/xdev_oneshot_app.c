/*
 * GUP002 case "two-drivers-same-macro", caller of xdev_oneshot: the same
 * macro name XDEV_IOC_REGISTER, but its value _IOW('Y', 1, struct xdev_buf)
 * matches only the one-shot driver, which unpins before returning: clean,
 * although the keeping driver defines a command of the same name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "xdev_oneshot_uapi.h"

int main(void)
{
	char buf[16384];
	struct xdev_buf req;
	int fd = open("/dev/xdev_oneshot", O_RDWR);

	if (fd < 0) {
		perror("/dev/xdev_oneshot");
		return 1;
	}
	memset(buf, 0xa5, sizeof(buf));
	req.addr = (uint64_t)(uintptr_t)buf;
	req.len = sizeof(buf);
	if (ioctl(fd, XDEV_IOC_REGISTER, &req) < 0)
		perror("XDEV_IOC_REGISTER");
	close(fd);
	return 0;
}

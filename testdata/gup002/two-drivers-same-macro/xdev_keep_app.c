/*
 * GUP002 case "two-drivers-same-macro", caller of xdev_keep: this program's
 * XDEV_IOC_REGISTER is _IOW('X', 1, struct xdev_buf), the value of the
 * keeping driver, so registering a stack buffer is flagged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "xdev_keep_uapi.h"

int main(void)
{
	char buf[16384];
	struct xdev_buf req;
	int fd = open("/dev/xdev_keep", O_RDWR);

	if (fd < 0) {
		perror("/dev/xdev_keep");
		return 1;
	}
	memset(buf, 0, sizeof(buf));
	req.addr = (uint64_t)(uintptr_t)buf;
	req.len = sizeof(buf);
	if (ioctl(fd, XDEV_IOC_REGISTER, &req) < 0) /* expect: GUP002 */
		perror("XDEV_IOC_REGISTER");
	if (ioctl(fd, XDEV_IOC_RELEASE, 0) < 0)
		perror("XDEV_IOC_RELEASE");
	close(fd);
	return 0;
}

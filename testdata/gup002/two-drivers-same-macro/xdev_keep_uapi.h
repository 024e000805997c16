/*
 * xdev_keep: user API. Same macro and struct names as xdev_oneshot_uapi.h,
 * different ioctl type letter, so XDEV_IOC_REGISTER has a different value.
 */
#ifndef XDEV_KEEP_UAPI_H
#define XDEV_KEEP_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define XDEV_MAX_BYTES		(256U << 10)

struct xdev_buf {
	__u64 addr;
	__u64 len;
};

/* the device keeps the buffer until XDEV_IOC_RELEASE */
#define XDEV_IOC_REGISTER	_IOW('X', 1, struct xdev_buf)
#define XDEV_IOC_RELEASE	_IO('X', 2)

#endif /* XDEV_KEEP_UAPI_H */

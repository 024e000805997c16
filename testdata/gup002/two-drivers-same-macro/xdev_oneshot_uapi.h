/*
 * xdev_oneshot: user API. Same macro and struct names as xdev_keep_uapi.h,
 * different ioctl type letter, so XDEV_IOC_REGISTER has a different value.
 */
#ifndef XDEV_ONESHOT_UAPI_H
#define XDEV_ONESHOT_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define XDEV_MAX_BYTES		(256U << 10)

struct xdev_buf {
	__u64 addr;
	__u64 len;
};

/* the device reads the buffer once, during the call */
#define XDEV_IOC_REGISTER	_IOW('Y', 1, struct xdev_buf)

#endif /* XDEV_ONESHOT_UAPI_H */

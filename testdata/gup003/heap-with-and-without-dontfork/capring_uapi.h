/*
 * capring: user API shared by the driver and its userland caller.
 */
#ifndef CAPRING_UAPI_H
#define CAPRING_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define CR_MAX_SLOTS		4
#define CR_MAX_BYTES		(1U << 20)
/* size of the device's own buffer, mapped with mmap(MAP_SHARED, fd, 0) */
#define CR_RING_BYTES		(64U << 10)

struct cr_region {
	__u64 addr;	/* user buffer the device writes captures into */
	__u64 len;	/* bytes, at most CR_MAX_BYTES */
	__u32 slot;	/* 0 .. CR_MAX_SLOTS - 1 */
	__u32 pad;
};

#define CR_IOC_MAGIC		'c'
/* the device keeps the region until UNREGISTER or close */
#define CR_IOC_REGISTER		_IOW(CR_IOC_MAGIC, 1, struct cr_region)
/* arg: slot number */
#define CR_IOC_UNREGISTER	_IOW(CR_IOC_MAGIC, 2, __u32)
/* the "device" writes a capture into every registered slot */
#define CR_IOC_CAPTURE		_IO(CR_IOC_MAGIC, 3)

#endif /* CAPRING_UAPI_H */

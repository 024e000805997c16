/*
 * ringreg: user API shared by the driver and its userland caller.
 */
#ifndef RINGREG_UAPI_H
#define RINGREG_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define RR_MAX_BYTES		(1U << 20)

struct rr_region {
	__u64 addr;	/* user buffer */
	__u32 len;	/* bytes, at most RR_MAX_BYTES */
	__u32 fill;	/* FILL_ONCE: byte value written into the buffer */
};

#define RR_IOC_MAGIC		'r'
/* the device keeps the region and writes into it until UNREGISTER */
#define RR_IOC_REGISTER		_IOW(RR_IOC_MAGIC, 1, struct rr_region)
/* the driver fills the region once, during the call */
#define RR_IOC_FILL_ONCE	_IOW(RR_IOC_MAGIC, 2, struct rr_region)
#define RR_IOC_UNREGISTER	_IO(RR_IOC_MAGIC, 3)
/* the "device" writes its next sequence byte into the registered region */
#define RR_IOC_KICK		_IO(RR_IOC_MAGIC, 4)

#endif /* RINGREG_UAPI_H */

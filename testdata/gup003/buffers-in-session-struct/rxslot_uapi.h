/* Userland interface of the rxslot testdata driver. */
#ifndef RXSLOT_UAPI_H
#define RXSLOT_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define RXSLOT_NR_SLOTS		4
#define RXSLOT_MAX_BYTES	(64 * 1024)

struct rxslot_region {
	__u64 addr;	/* page aligned */
	__u32 len;	/* bytes, at most RXSLOT_MAX_BYTES */
	__u32 slot;
};

#define RXSLOT_IOC_REGISTER	_IOW('r', 1, struct rxslot_region)
#define RXSLOT_IOC_FILL		_IO('r', 2)	/* the "device" writes a counter into every slot */

#endif

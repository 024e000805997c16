/*
 * accmem: user API shared by the driver and its userland caller.
 */
#ifndef ACCMEM_UAPI_H
#define ACCMEM_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define AM_MAX_BYTES		(16U << 20)
#define AM_MAX_MAPPINGS		8

struct am_map {
	__u64 addr;	/* user memory the accelerator works on */
	__u64 len;	/* bytes, at most AM_MAX_BYTES */
	__u32 handle;	/* out: mapping handle */
	__u32 pad;
};

#define AM_IOC_MAGIC		'a'
/* long-term FOLL_PIN mapping, kept until UNMAP or close */
#define AM_IOC_MAP		_IOWR(AM_IOC_MAGIC, 1, struct am_map)
/* legacy path: FOLL_GET references, kept until UNMAP or close */
#define AM_IOC_MAP_LEGACY	_IOWR(AM_IOC_MAGIC, 2, struct am_map)
/* arg: mapping handle */
#define AM_IOC_UNMAP		_IOW(AM_IOC_MAGIC, 3, __u32)

#endif /* ACCMEM_UAPI_H */

/* mapq: user API shared by the testdata driver and its userland caller. */
#ifndef MAPQ_UAPI_H
#define MAPQ_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define MAPQ_MAX_BYTES		(64 * 1024)

struct mapq_buf {
	__u64 uaddr;	/* page aligned */
	__u32 bytes;	/* at most MAPQ_MAX_BYTES */
	__u32 value;	/* POKE_ONCE: byte written into the buffer */
};

#define MAPQ_IOC_MAGIC		'q'
/* the driver keeps the buffer on its queue until DETACH_ALL or close */
#define MAPQ_IOC_ATTACH		_IOW(MAPQ_IOC_MAGIC, 1, struct mapq_buf)
/* the driver writes `value` into the buffer once, during the call */
#define MAPQ_IOC_POKE_ONCE	_IOW(MAPQ_IOC_MAGIC, 2, struct mapq_buf)
#define MAPQ_IOC_DETACH_ALL	_IO(MAPQ_IOC_MAGIC, 3)
/* the "device" writes its next sequence byte into every attached buffer */
#define MAPQ_IOC_TICK		_IO(MAPQ_IOC_MAGIC, 4)

#endif /* MAPQ_UAPI_H */

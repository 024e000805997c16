/*
 * tracebuf: user API shared by the driver and its userland callers.
 */
#ifndef TRACEBUF_UAPI_H
#define TRACEBUF_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define TB_MAX_BYTES		(4U << 20)

struct tb_attach {
	__u64 addr;	/* user trace buffer the device appends records to */
	__u64 len;	/* bytes, at most TB_MAX_BYTES */
};

#define TB_IOC_MAGIC		't'
/* the device keeps the buffer until DETACH or close */
#define TB_IOC_ATTACH		_IOW(TB_IOC_MAGIC, 1, struct tb_attach)
#define TB_IOC_DETACH		_IO(TB_IOC_MAGIC, 2)
/* the "device" appends a trace record */
#define TB_IOC_EMIT		_IO(TB_IOC_MAGIC, 3)

#endif /* TRACEBUF_UAPI_H */

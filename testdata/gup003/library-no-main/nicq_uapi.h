/*
 * nicq: user API shared by the driver and its userland library.
 */
#ifndef NICQ_UAPI_H
#define NICQ_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define NICQ_MAX_BYTES		(2U << 20)

struct nicq_rx_ring {
	__u64 addr;	/* page aligned receive ring */
	__u64 len;	/* bytes, page multiple, at most NICQ_MAX_BYTES */
};

#define NICQ_IOC_MAGIC		'n'
/* the device receives into the ring until RX_DETACH or close */
#define NICQ_IOC_RX_ATTACH	_IOW(NICQ_IOC_MAGIC, 1, struct nicq_rx_ring)
#define NICQ_IOC_RX_DETACH	_IO(NICQ_IOC_MAGIC, 2)

#endif /* NICQ_UAPI_H */

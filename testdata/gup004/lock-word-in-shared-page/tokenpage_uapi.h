/*
 * tokenpage: user API shared by the driver and its userland program.
 */
#ifndef TOKENPAGE_UAPI_H
#define TOKENPAGE_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define TP_SLOTS	32

/* The page mmap() shares with every opener. */
struct tp_page {
	__u32 lock;		/* set by TP_IOC_ACQUIRE, cleared by TP_IOC_RELEASE */
	__u32 owner;		/* pid of the holder */
	__u64 slots[TP_SLOTS];
};

#define TP_IOC_MAGIC	'T'
#define TP_IOC_ACQUIRE	_IO(TP_IOC_MAGIC, 1)	/* -EBUSY while another holder has it */
#define TP_IOC_RELEASE	_IO(TP_IOC_MAGIC, 2)

#endif /* TOKENPAGE_UAPI_H */

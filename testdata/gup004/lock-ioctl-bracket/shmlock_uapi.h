/*
 * shmlock: user API shared by the driver and its userland program.
 */
#ifndef SHMLOCK_UAPI_H
#define SHMLOCK_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SHM_TEXT_MAX	200

/* The page mmap() shares between the driver and its users. */
struct shm_board {
	__u32 generation;	/* bumped by the driver on every BUMP */
	__u32 len;		/* bytes in text */
	char text[SHM_TEXT_MAX];
};

#define SHM_IOC_MAGIC	'S'
/* take the board: returns with the board's semaphore held by the caller */
#define SHM_IOC_LOCK	_IO(SHM_IOC_MAGIC, 1)
/* give the board back */
#define SHM_IOC_UNLOCK	_IO(SHM_IOC_MAGIC, 2)
/* the driver bumps the generation itself, under the semaphore */
#define SHM_IOC_BUMP	_IO(SHM_IOC_MAGIC, 3)

#endif /* SHMLOCK_UAPI_H */

/*
 * pagepoke: user API shared by the driver and its userland caller.
 * The ioctl argument of every command IS the user address (no struct).
 */
#ifndef PAGEPOKE_UAPI_H
#define PAGEPOKE_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define PP_IOC_MAGIC		'p'
/* arg: user address of a mailbox; its page stays attached until DETACH */
#define PP_IOC_ATTACH		_IO(PP_IOC_MAGIC, 1)
/* arg: user address; the driver stamps a sequence number there once */
#define PP_IOC_POKE		_IO(PP_IOC_MAGIC, 2)
#define PP_IOC_DETACH		_IO(PP_IOC_MAGIC, 3)
/* the "device" stamps the attached mailbox */
#define PP_IOC_TICK		_IO(PP_IOC_MAGIC, 4)

#endif /* PAGEPOKE_UAPI_H */

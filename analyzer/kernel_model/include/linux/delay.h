/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_DELAY_H
#define _GUPCHECK_LINUX_DELAY_H
extern void msleep(unsigned int msecs);
extern unsigned long msleep_interruptible(unsigned int msecs);
extern void usleep_range(unsigned long min, unsigned long max);
extern void udelay(unsigned long usecs);
extern void mdelay(unsigned long msecs);
extern void ndelay(unsigned long nsecs);
#endif

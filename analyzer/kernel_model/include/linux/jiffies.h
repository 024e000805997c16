/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_JIFFIES_H
#define _GUPCHECK_LINUX_JIFFIES_H
#include <linux/types.h>
#define HZ	250
extern volatile unsigned long jiffies;
extern unsigned long msecs_to_jiffies(unsigned int m);
extern unsigned long usecs_to_jiffies(unsigned int u);
extern unsigned int jiffies_to_msecs(unsigned long j);
#define time_after(a, b)	((long)((b) - (a)) < 0)
#define time_before(a, b)	time_after(b, a)
#endif

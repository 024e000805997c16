/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_SCHED_SIGNAL_H
#define _GUPCHECK_LINUX_SCHED_SIGNAL_H
#include <linux/sched.h>
extern int send_sig(int sig, struct task_struct *p, int priv);
extern unsigned long rlimit(unsigned int limit);
#define RLIMIT_MEMLOCK	8
#endif

/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_SCHED_H
#define _GUPCHECK_LINUX_SCHED_H
#include <linux/types.h>
#include <linux/list.h>
#include <linux/atomic.h>
#include <linux/refcount.h>
#include <linux/limits.h>
#include <asm/current.h>

struct mm_struct;
#define TASK_COMM_LEN	16
#define TASK_RUNNING		0x0000
#define TASK_INTERRUPTIBLE	0x0001
#define TASK_UNINTERRUPTIBLE	0x0002
#define MAX_SCHEDULE_TIMEOUT	LONG_MAX

struct task_struct {
	unsigned int __state;
	refcount_t usage;
	unsigned int flags;
	struct mm_struct *mm;
	struct mm_struct *active_mm;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct list_head children;
	char comm[TASK_COMM_LEN];
};

extern void schedule(void);
extern long schedule_timeout(long timeout);
extern long schedule_timeout_interruptible(long timeout);
extern int cond_resched(void);
extern int wake_up_process(struct task_struct *tsk);
extern void set_current_state_fn(unsigned int state);
#define set_current_state(state)	set_current_state_fn(state)
#define __set_current_state(state)	set_current_state_fn(state)
extern pid_t task_pid_nr(struct task_struct *tsk);
extern pid_t task_tgid_nr(struct task_struct *tsk);
extern void get_task_struct_fn(struct task_struct *tsk);
extern void put_task_struct(struct task_struct *tsk);
#define get_task_struct(tsk)	({ get_task_struct_fn(tsk); (tsk); })
extern int signal_pending(struct task_struct *p);
extern int fatal_signal_pending(struct task_struct *p);
extern bool capable(int cap);
#define CAP_SYS_ADMIN	21
#define CAP_IPC_LOCK	14

#endif

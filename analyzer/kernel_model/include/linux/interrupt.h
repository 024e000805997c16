/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_INTERRUPT_H
#define _GUPCHECK_LINUX_INTERRUPT_H
#include <linux/types.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
enum irqreturn { IRQ_NONE = 0, IRQ_HANDLED = 1, IRQ_WAKE_THREAD = 2 };
typedef enum irqreturn irqreturn_t;
typedef irqreturn_t (*irq_handler_t)(int irq, void *dev_id);
#define IRQF_SHARED	0x00000080
extern int __must_check request_irq(unsigned int irq, irq_handler_t handler, unsigned long flags,
				    const char *name, void *dev);
extern void *free_irq(unsigned int irq, void *dev_id);
extern bool in_interrupt(void);
#endif

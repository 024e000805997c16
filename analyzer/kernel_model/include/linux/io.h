/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_IO_H
#define _GUPCHECK_LINUX_IO_H
#include <linux/types.h>
#include <asm/page.h>
extern void __iomem *ioremap(resource_size_t offset, unsigned long size);
extern void __iomem *ioremap_wc(resource_size_t offset, unsigned long size);
extern void iounmap(volatile void __iomem *addr);
extern u8 readb(const volatile void __iomem *addr);
extern u16 readw(const volatile void __iomem *addr);
extern u32 readl(const volatile void __iomem *addr);
extern u64 readq(const volatile void __iomem *addr);
extern void writeb(u8 v, volatile void __iomem *addr);
extern void writew(u16 v, volatile void __iomem *addr);
extern void writel(u32 v, volatile void __iomem *addr);
extern void writeq(u64 v, volatile void __iomem *addr);
extern void memcpy_fromio(void *to, const volatile void __iomem *from, size_t n);
extern void memcpy_toio(volatile void __iomem *to, const void *from, size_t n);
extern void memset_io(volatile void __iomem *addr, int v, size_t n);
extern phys_addr_t virt_to_phys(volatile void *addr);
extern void *phys_to_virt(phys_addr_t addr);
#endif

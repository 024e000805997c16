/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_DMA_MAPPING_H
#define _GUPCHECK_LINUX_DMA_MAPPING_H
#include <linux/types.h>
#include <linux/gfp.h>
#include <linux/device.h>
#include <linux/scatterlist.h>
#include <linux/dma-direction.h>

#define DMA_BIT_MASK(n)		(((n) == 64) ? ~0ULL : ((1ULL << (n)) - 1))
#define DMA_MAPPING_ERROR	(~(dma_addr_t)0)
#define DMA_ATTR_WRITE_COMBINE	(1UL << 2)

extern void *dma_alloc_attrs(struct device *dev, size_t size, dma_addr_t *dma_handle,
			     gfp_t flag, unsigned long attrs);
extern void dma_free_attrs(struct device *dev, size_t size, void *cpu_addr,
			   dma_addr_t dma_handle, unsigned long attrs);
extern void *dma_alloc_coherent(struct device *dev, size_t size, dma_addr_t *dma_handle, gfp_t gfp);
extern void dma_free_coherent(struct device *dev, size_t size, void *cpu_addr, dma_addr_t dma_handle);
extern int dma_mmap_attrs(struct device *dev, struct vm_area_struct *vma, void *cpu_addr,
			  dma_addr_t dma_addr, size_t size, unsigned long attrs);
#define dma_mmap_coherent(d, v, c, h, s)	dma_mmap_attrs(d, v, c, h, s, 0)
extern dma_addr_t dma_map_single_attrs(struct device *dev, void *ptr, size_t size,
				       enum dma_data_direction dir, unsigned long attrs);
extern void dma_unmap_single_attrs(struct device *dev, dma_addr_t addr, size_t size,
				   enum dma_data_direction dir, unsigned long attrs);
#define dma_map_single(d, a, s, r)	dma_map_single_attrs(d, a, s, r, 0)
#define dma_unmap_single(d, a, s, r)	dma_unmap_single_attrs(d, a, s, r, 0)
extern dma_addr_t dma_map_page_attrs(struct device *dev, struct page *page, size_t offset,
				     size_t size, enum dma_data_direction dir, unsigned long attrs);
extern void dma_unmap_page_attrs(struct device *dev, dma_addr_t addr, size_t size,
				 enum dma_data_direction dir, unsigned long attrs);
#define dma_map_page(d, p, o, s, r)	dma_map_page_attrs(d, p, o, s, r, 0)
#define dma_unmap_page(d, a, s, r)	dma_unmap_page_attrs(d, a, s, r, 0)
extern unsigned int dma_map_sg_attrs(struct device *dev, struct scatterlist *sg, int nents,
				     enum dma_data_direction dir, unsigned long attrs);
extern void dma_unmap_sg_attrs(struct device *dev, struct scatterlist *sg, int nents,
			       enum dma_data_direction dir, unsigned long attrs);
#define dma_map_sg(d, s, n, r)		dma_map_sg_attrs(d, s, n, r, 0)
#define dma_unmap_sg(d, s, n, r)	dma_unmap_sg_attrs(d, s, n, r, 0)
extern int dma_map_sgtable(struct device *dev, struct sg_table *sgt,
			   enum dma_data_direction dir, unsigned long attrs);
extern void dma_unmap_sgtable(struct device *dev, struct sg_table *sgt,
			      enum dma_data_direction dir, unsigned long attrs);
extern int dma_mapping_error(struct device *dev, dma_addr_t dma_addr);
extern int dma_set_mask(struct device *dev, u64 mask);
extern int dma_set_coherent_mask(struct device *dev, u64 mask);
extern int dma_set_mask_and_coherent(struct device *dev, u64 mask);
extern void dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr, size_t size,
				    enum dma_data_direction dir);
extern void dma_sync_single_for_device(struct device *dev, dma_addr_t addr, size_t size,
				       enum dma_data_direction dir);

#endif

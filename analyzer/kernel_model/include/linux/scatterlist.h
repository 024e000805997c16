/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_SCATTERLIST_H
#define _GUPCHECK_LINUX_SCATTERLIST_H
#include <linux/types.h>
#include <linux/mm.h>

struct scatterlist {
	unsigned long page_link;
	unsigned int offset;
	unsigned int length;
	dma_addr_t dma_address;
	unsigned int dma_length;
};
struct sg_table {
	struct scatterlist *sgl;
	unsigned int nents;
	unsigned int orig_nents;
};

extern struct page *sg_page(struct scatterlist *sg);
extern void sg_set_page(struct scatterlist *sg, struct page *page, unsigned int len, unsigned int offset);
extern void sg_init_table(struct scatterlist *sgl, unsigned int nents);
extern struct scatterlist *sg_next(struct scatterlist *sg);
#define sg_dma_address(sg)	((sg)->dma_address)
#define sg_dma_len(sg)		((sg)->dma_length)
#define for_each_sg(sglist, sg, nr, i) \
	for ((i) = 0, (sg) = (sglist); (i) < (nr); (i)++, (sg) = sg_next(sg))
#define for_each_sgtable_sg(sgt, sg, i)	for_each_sg((sgt)->sgl, sg, (sgt)->orig_nents, i)
extern int __must_check sg_alloc_table(struct sg_table *table, unsigned int nents, gfp_t gfp);
extern int __must_check sg_alloc_table_from_pages(struct sg_table *sgt, struct page **pages,
						  unsigned int n_pages, unsigned int offset,
						  unsigned long size, gfp_t gfp_mask);
extern void sg_free_table(struct sg_table *table);

#endif

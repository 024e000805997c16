"""GUP004 on the ways memory gets shared beyond a buffer an mmap handler names (issue 16): the lock
discipline inferred from marked accesses too, pointers into a buffer kept in struct fields and arrays,
user pages pinned and mapped into the kernel, and types the configuration declares shared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gupcheck.analyses.sharedmem import Place, SharedMemory
from gupcheck.kernel_api.declared import ApiKnowledge
from gupcheck.model.facts import Function, TranslationUnitFacts
from gupcheck.model.program import Program
from gupcheck.pipeline.projectconfig import ConfigFileError, load_config
from gupcheck.rules.unlocked_shared_mapping.double_fetch import double_fetches
from gupcheck.rules.unlocked_shared_mapping.mapped_free import mapped_frees
from gupcheck.rules.unlocked_shared_mapping.unlocked import unlocked_accesses

Parse = Callable[[str], TranslationUnitFacts]

HEADERS = """
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/dma-mapping.h>
#include <linux/string.h>
#include <linux/uaccess.h>
"""


def shared_of(kernel_facts: Parse, source: str, api: ApiKnowledge | None = None) -> SharedMemory:
    return SharedMemory(Program([kernel_facts(HEADERS + source)], api=api))


def function(shared: SharedMemory, name: str) -> Function:
    return next(fn for fn in shared.kernel if fn.name == name)


# -- marked accesses in the lock discipline ----------------------------------------------------------
RING = """
struct hdr { u32 head; u32 count; u32 flag; };
struct rdev { struct mutex lock; struct hdr *hdr; struct hdr *free_run; };
static struct rdev r;
static int rd_mmap(struct file *f, struct vm_area_struct *vma)
{
    return remap_vmalloc_range(vma, vma->vm_pgoff ? r.free_run : r.hdr, 0);
}
static void locked_writer(u32 n)
{
    mutex_lock(&r.lock);
    WRITE_ONCE(r.hdr->head, n);
    WRITE_ONCE(r.hdr->count, n);
    mutex_unlock(&r.lock);
    WRITE_ONCE(r.free_run->head, n);
    WRITE_ONCE(r.free_run->count, n);
}
static void other_writer(u32 n)
{
    SECOND
}
static long rd_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
    if (cmd)
        locked_writer(arg);
    else
        other_writer(arg);
    return 0;
}
static const struct file_operations rd_fops = { .mmap = rd_mmap, .unlocked_ioctl = rd_ioctl };
static int __init rd_init(void)
{
    r.hdr = vmalloc_user(PAGE_SIZE);
    r.free_run = vmalloc_user(PAGE_SIZE);
    return 0;
}
module_init(rd_init);
"""


def unlocked_in(kernel_facts: Parse, second: str) -> list[tuple[str, int, tuple[str, ...]]]:
    shared = shared_of(kernel_facts, RING.replace("SECOND", second))
    return sorted(
        (found.access.text, len(found.update), found.update)
        for found in unlocked_accesses(shared)
        if found.access.function.name == "other_writer"
    )


def test_a_marked_multi_field_update_outside_the_writers_lock_is_reported(kernel_facts: Parse) -> None:
    found = unlocked_in(kernel_facts, "WRITE_ONCE(r.hdr->head, n); smp_store_release(&r.hdr->count, n);")
    assert found == [
        ("&r.hdr->count", 2, (".count", ".head")),
        ("r.hdr->head", 2, (".count", ".head")),
    ]


@pytest.mark.parametrize(
    "second",
    [
        "WRITE_ONCE(r.hdr->flag, n);",  # one field: one marked store is one access
        "(void)READ_ONCE(r.hdr->head); (void)smp_load_acquire(&r.hdr->count);",  # marked reads
        "WRITE_ONCE(r.free_run->head, n); WRITE_ONCE(r.free_run->flag, n);",  # no access locked
        "set_bit(0, (unsigned long *)&r.hdr->flag); atomic_inc((atomic_t *)&r.hdr->count);",  # atomics
        "mutex_lock(&r.lock); WRITE_ONCE(r.hdr->head, n); WRITE_ONCE(r.hdr->flag, n); mutex_unlock(&r.lock);",
    ],
)
def test_marked_accesses_the_discipline_allows_are_not_reported(kernel_facts: Parse, second: str) -> None:
    assert unlocked_in(kernel_facts, second) == []


def test_the_lock_is_inferred_from_marked_accesses_for_plain_ones(kernel_facts: Parse) -> None:
    """Before, the only locked accesses being marked, no discipline was inferred at all."""
    found = unlocked_in(kernel_facts, "r.hdr->flag = n;")
    assert found == [("r.hdr->flag", 0, ())]


# -- pointers into a buffer kept in fields and arrays --------------------------------------------------
QUEUE = """
struct info { u32 head; u32 tail; };
struct slot { u64 addr; u32 len; };
struct q {
    struct mutex lock;
    struct device *dev;
    void *vaddr;
    dma_addr_t dma;
    struct info *info;
    struct slot *slots;
    struct slot *copy;
    struct page *pages[2];
    u32 *va[2];
    u32 *kva[2];
    u32 *first;
};
static int q_mmap(struct file *f, struct vm_area_struct *vma)
{
    struct q *q = f->private_data;

    return dma_mmap_coherent(q->dev, vma, q->vaddr, q->dma, PAGE_SIZE * 4);
}
static vm_fault_t q_fault(struct vm_fault *vmf)
{
    struct q *q = vmf->vma->vm_private_data;

    vmf->page = q->pages[vmf->pgoff & 1];
    get_page(vmf->page);
    return 0;
}
static const struct vm_operations_struct q_vm_ops = { .fault = q_fault };
static int q_open(struct inode *inode, struct file *f)
{
    struct q *q = kzalloc(sizeof(*q), GFP_KERNEL);
    void *vaddr = dma_alloc_coherent(q->dev, PAGE_SIZE * 4, &q->dma, GFP_KERNEL);
    struct page *own = alloc_page(GFP_KERNEL);
    int i;

    q->vaddr = vaddr;
    q->info = vaddr;
    q->slots = vaddr + PAGE_SIZE;
    q->copy = kcalloc(8, sizeof(*q->copy), GFP_KERNEL);
    for (i = 0; i < 2; i++) {
        q->pages[i] = alloc_page(GFP_KERNEL);
        q->va[i] = page_address(q->pages[i]);
        q->kva[i] = page_address(own);
    }
    q->first = page_address(q->pages[0]);
    q->info->head = 0;
    f->private_data = q;
    return 0;
}
static long q_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
    struct q *q = f->private_data;
    u32 head;

    mutex_lock(&q->lock);
    head = q->info->head;
    q->slots[head & 7].len = arg;
    q->copy[head & 7].len = arg;
    q->va[1][0] = arg;
    q->kva[1][0] = arg;
    mutex_unlock(&q->lock);
    q->info->tail = head;
    q->va[0][1] = head;
    q->kva[0][1] = head;
    return 0;
}
static int q_release(struct inode *inode, struct file *f)
{
    struct q *q = f->private_data;

    dma_free_coherent(q->dev, PAGE_SIZE * 4, q->vaddr, q->dma);
    return 0;
}
static const struct file_operations q_fops = {
    .open = q_open, .release = q_release, .mmap = q_mmap, .unlocked_ioctl = q_ioctl,
};
"""


def test_fields_and_arrays_pointing_into_a_buffer_name_places_in_it(kernel_facts: Parse) -> None:
    shared = shared_of(kernel_facts, QUEUE)
    ioctl = function(shared, "q_ioctl")
    assert shared.place(ioctl, "q->info->head") == Place("vaddr", ".head")
    assert shared.place(ioctl, "q->slots[].len") == Place("vaddr", "[][].len")  # somewhere in it
    assert shared.place(ioctl, "q->copy[].len") is None  # a kernel-only allocation
    # each element of q->va points to a shared page: the element is a pointer, what it points to is shared
    assert shared.place(ioctl, "q->va[][]") == Place("va", "[]")
    assert shared.place(ioctl, "q->kva[][]") is None  # page_address() of a page nobody maps
    assert shared.place(ioctl, "q->first[]") == Place("first", "[]")
    va = shared.buffers[(ioctl.file, "va")]
    assert va.indirect and va.export.api == "a .fault handler"
    unlocked = sorted((f.access.function.name, f.access.text) for f in unlocked_accesses(shared))
    # open() fills the queue it just allocated; the release frees it: neither is reported
    assert unlocked == [("q_ioctl", "q->info->tail"), ("q_ioctl", "q->va[0][1]")]


# -- user pages pinned and mapped into the kernel ------------------------------------------------------
MAILBOX = """
struct msg { u32 len; u8 body[64]; };
struct box { struct page **pages; struct msg *msg; struct msg *mine; struct msg *head; u8 out[64]; };
static long box_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
    struct box *b = f->private_data;
    struct page **pages = kcalloc(2, sizeof(*pages), GFP_KERNEL);
    struct page *own[2] = { alloc_page(GFP_KERNEL), alloc_page(GFP_KERNEL) };
    struct msg *first;
    struct page *heads[1];

    switch (cmd) {
    case 1:
        if (pin_user_pages_fast(arg, 2, FOLL_WRITE | FOLL_LONGTERM, pages) != 2)
            return -EFAULT;
        b->pages = pages;
        b->msg = vmap(pages, 2, VM_MAP, PAGE_KERNEL);
        b->mine = vmap(own, 2, VM_MAP, PAGE_KERNEL);
        heads[0] = b->pages[0];
        b->head = vmap(heads, 1, VM_MAP, PAGE_KERNEL);
        return 0;
    case 2:
        if (b->msg->len > 64 || b->mine->len > 64)
            return -EINVAL;
        memcpy(b->out, b->msg->body, b->msg->len);
        memcpy(b->out, b->mine->body, b->mine->len);
        return 0;
    case 3:
        first = kmap_local_page(b->pages[0]);
        if (first->len <= 64)
            memcpy(b->out, first->body, first->len);
        kunmap_local(first);
        return 0;
    }
    return -ENOTTY;
}
static const struct file_operations box_fops = { .unlocked_ioctl = box_ioctl };
"""


def test_pinned_user_pages_mapped_into_the_kernel_are_shared(kernel_facts: Parse) -> None:
    shared = shared_of(kernel_facts, MAILBOX)
    keys = {key for _file, key in shared.buffers}
    # `head` maps a local array filled from the pinned one; `mine` maps the driver's own pages
    assert keys == {"msg", "pages", "head"}
    msg = next(b for (_f, key), b in shared.buffers.items() if key == "msg")
    assert msg.export.via == "as pinned user pages"  # not "through mmap" in messages
    assert msg.writable and msg.export.describe(msg.spelling) == (
        "'b->msg' maps user pages pinned by pin_user_pages_fast() into the kernel (vmap()): "
        "user space can write them at any time"
    )
    fetched = sorted((d.first.text, d.second.text, d.second.location.line) for d in double_fetches(shared))
    assert [(first, second) for first, second, _line in fetched] == [
        ("b->msg->len", "b->msg->len"),
        ("first->len", "first->len"),
    ]


# -- declared shared types -----------------------------------------------------------------------------
DECLARED = """
struct my_ring { u32 len; u8 data[32]; };
struct other { u32 len; u8 data[32]; };
struct holder { struct mutex lock; struct my_ring *ring; struct other *plain; u8 out[32]; };
static long take(struct holder *h)
{
    struct my_ring *ring = h->ring;
    struct other *plain = h->plain;

    if (ring->len > 32 || plain->len > 32)
        return -EINVAL;
    memcpy(h->out, ring->data, ring->len);
    memcpy(h->out, plain->data, plain->len);
    return 0;
}
static long hd_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
    return take(f->private_data);
}
static const struct file_operations hd_fops = { .unlocked_ioctl = hd_ioctl };
"""


def test_declared_shared_types_make_every_object_of_the_type_shared(kernel_facts: Parse) -> None:
    assert shared_of(kernel_facts, DECLARED).buffers == {}
    shared = shared_of(kernel_facts, DECLARED, ApiKnowledge(shared_types=("struct my_ring",)))
    take = function(shared, "take")
    assert shared.place(take, "ring->len") == Place("struct my_ring", ".len")
    assert shared.place(take, "h->ring->len") == Place("struct my_ring", ".len")  # the field it came from
    assert shared.place(take, "plain->len") is None
    (found,) = double_fetches(shared)
    assert found.second.text == "ring->len"
    assert "declared shared with user space ([api] shared-types)" in found.buffer.export.describe("ring")


def test_shared_types_are_read_from_the_configuration(tmp_path: Path) -> None:
    config = tmp_path / ".gupcheck.toml"
    config.write_text('[api]\nshared-types = ["struct  my_ring", "struct q_hdr"]\n')
    assert load_config(config).api.shared_types == ("struct my_ring", "struct q_hdr")
    config.write_text('[api]\nshared-types = "struct my_ring"\n')
    with pytest.raises(ConfigFileError, match="api.shared-types"):
        load_config(config)


def test_a_declared_shared_type_is_checked_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "ring.c").write_text(HEADERS + DECLARED)
    env = {k: v for k, v in os.environ.items() if k != "GUPCHECK_KERNEL_DIR"}

    def run() -> list[dict]:
        done = subprocess.run(
            [sys.executable, "-m", "gupcheck", "--kernel-model", "--format", "json", "ring.c"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        return [f for f in json.loads(done.stdout)["findings"] if f["ruleId"] == "GUP004"]

    assert run() == []
    (tmp_path / ".gupcheck.toml").write_text('[api]\nshared-types = ["struct my_ring"]\n')
    (found,) = run()
    assert found["message"].startswith("double fetch: 'ring->len'")


# -- a vm_close callback freeing a buffer another vma may still map ----------------------------------
BLOCKS = """
struct blk { void *vaddr; dma_addr_t dma; size_t size; atomic_t maps; struct device *dev; };
static void blk_release_dma(struct device *dev, size_t n, void *va, dma_addr_t handle)
{
    dma_free_coherent(dev, n, va, handle);
}
static void blk_close(struct vm_area_struct *vma)
{
    struct blk *b = vma->vm_private_data;

    if (COUNTED && !atomic_dec_and_test(&b->maps))
        return;
    blk_release_dma(b->dev, b->size, b->vaddr, b->dma);
    kfree(b);
}
static void blk_open(struct vm_area_struct *vma)
{
    struct blk *b = vma->vm_private_data;

    atomic_inc(&b->maps);
}
static void blk_open_nothing(struct vm_area_struct *vma)
{
}
static int blk_no_split(struct vm_area_struct *vma, unsigned long addr)
{
    return -EINVAL;
}
static const struct vm_operations_struct blk_vm_ops = { OPS };
static int blk_mmap(struct file *f, struct vm_area_struct *vma)
{
    struct blk *b = kzalloc(sizeof(*b), GFP_KERNEL);

    if (!b)
        return -ENOMEM;
    b->size = vma->vm_end - vma->vm_start;
    b->vaddr = dma_alloc_coherent(b->dev, b->size, &b->dma, GFP_KERNEL);
    atomic_set(&b->maps, 1);
    vma->vm_private_data = b;
    vma->vm_ops = &blk_vm_ops;
    vma->vm_flags |= VM_DONTCOPY;
    return dma_mmap_coherent(b->dev, vma, b->vaddr, b->dma, b->size);
}
static const struct file_operations blk_fops = { .mmap = blk_mmap };
"""


@pytest.mark.parametrize(
    ("ops", "counted", "reported"),
    [
        # VM_DONTCOPY stops the copy at fork, not the split of a partial munmap
        (".close = blk_close", 0, True),
        (".open = blk_open_nothing, .close = blk_close", 0, True),  # an .open that counts nothing
        (".open = blk_open, .close = blk_close", 1, False),  # the last close frees
        (".may_split = blk_no_split, .close = blk_close", 0, False),  # one vma, never split
    ],
)
def test_a_vm_close_freeing_what_a_copied_vma_still_maps(
    kernel_facts: Parse, ops: str, counted: int, reported: bool
) -> None:
    shared = shared_of(kernel_facts, BLOCKS.replace("OPS", ops).replace("COUNTED", str(counted)))
    found = [(f.function.name, f.call.callee, f.buffer.key, f.release.name) for f in mapped_frees(shared)]
    expected = [("blk_close", "blk_release_dma", "vaddr", "blk_close")]  # through the driver's helper
    assert found == (expected if reported else [])


# -- one field name, several owner types; helpers called for several queues; locks the caller picks --
QUEUES = """
struct wqe { u32 id; u32 len; };
struct pair { struct rw_semaphore state; struct wqe *recvq; };
struct shared_rq { u32 put; struct wqe *recvq; };
static void fill(struct wqe *e, u32 id)
{
    e->id = id;
    e->len = 0;
}
static long pair_post(struct pair *p, u32 id)
{
    down_read(&p->state);
    fill(&p->recvq[id % 8], id);
    p->recvq[0].len = 1;
    up_read(&p->state);
    return 0;
}
static long srq_post(struct shared_rq *s, u32 id)
{
    fill(&s->recvq[s->put % 8], id);
    s->recvq[1].len = 2;
    return 0;
}
static long pair_stray(struct pair *p)
{
    p->recvq[2].len = 3;
    return 0;
}
static long q_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
    struct pair *p = f->private_data;
    struct shared_rq *s = (void *)arg;

    switch (cmd) {
    case 1: p->recvq = vmalloc_user(PAGE_SIZE); return 0;
    case 2: s->recvq = vmalloc_user(PAGE_SIZE); return 0;
    case 3: return pair_post(p, arg);
    case 4: return srq_post(s, arg);
    case 5: return pair_stray(p);
    }
    return -ENOTTY;
}
static const struct file_operations q_fops = { .unlocked_ioctl = q_ioctl };
"""


def test_a_field_exported_in_several_owner_types_is_one_buffer_each(kernel_facts: Parse) -> None:
    shared = shared_of(kernel_facts, QUEUES)
    assert {key for _file, key in shared.buffers} == {"pair::recvq", "shared_rq::recvq"}
    srq = function(shared, "srq_post")
    assert shared.place(srq, "s->recvq[].len") == Place("shared_rq::recvq", "[].len")
    unlocked = sorted((f.access.function.name, f.access.text) for f in unlocked_accesses(shared))
    # srq_post fills a queue no access locks; fill() holds, for the pair's queue, what pair_post holds
    assert unlocked == [("pair_stray", "p->recvq[2].len")]


RESIZE = """
struct slot { u32 len; };
struct ring { struct slot *slots; };
struct cq { spinlock_t cq_lock; struct ring *r; };
struct wq { spinlock_t wq_lock; struct ring *r; };
static void ring_resize(struct ring *r, spinlock_t *lock)
{
    spin_lock(lock);
    r->slots[0].len = 0;
    spin_unlock(lock);
}
static void ring_reset(struct ring *r)
{
    memset(r->slots, 0, PAGE_SIZE);
}
static long ring_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
    struct cq *c = f->private_data;
    struct wq *w = (void *)arg;

    switch (cmd) {
    case 1: c->r->slots = vmalloc_user(PAGE_SIZE); return 0;
    case 2: ring_resize(c->r, &c->cq_lock); return 0;
    case 3: ring_resize(w->r, SECOND_LOCK); return 0;
    case 4: ring_reset(w->r); return 0;
    }
    return -ENOTTY;
}
static const struct file_operations ring_fops = { .unlocked_ioctl = ring_ioctl };
"""


@pytest.mark.parametrize(
    ("second_lock", "reported"),
    [("&w->wq_lock", False), ("&c->cq_lock", True)],
)
def test_a_lock_the_callers_choose_is_no_discipline(
    kernel_facts: Parse, second_lock: str, reported: bool
) -> None:
    """ring_resize() takes whatever lock it is given: called with two locks, it names no one lock
    that protects the ring, and ring_reset() is not held to it; called with one lock, it does."""
    shared = shared_of(kernel_facts, RESIZE.replace("SECOND_LOCK", second_lock))
    unlocked = [(f.access.function.name, f.lock) for f in unlocked_accesses(shared)]
    assert unlocked == ([("ring_reset", "lock")] if reported else [])


# -- a mailbox mapped by a .fault handler through a copy of its address; reads through a pointer into it
MAILBOX_RING = """
struct cmd { u32 flags; u32 len; u32 status; };
struct mbox { u32 head; u32 tail; };
struct tdev { struct mbox *mb; void *ring; struct { unsigned long addr; } mem[2]; u8 out[256]; };
static struct tdev t;
static vm_fault_t t_fault(struct vm_fault *vmf)
{
    void *addr = (void *)(unsigned long)t.mem[0].addr + (vmf->pgoff << PAGE_SHIFT);

    vmf->page = vmalloc_to_page(addr);
    get_page(vmf->page);
    return 0;
}
static const struct vm_operations_struct t_vm_ops = { .fault = t_fault };
static int t_mmap(struct file *f, struct vm_area_struct *vma)
{
    vma->vm_ops = &t_vm_ops;
    return 0;
}
static u32 complete_one(struct cmd *c)
{
    u32 len = sizeof(t.out);

    if (c->len && c->len < len)
        len = c->len;
    if (c->status > 3)
        pr_err("bad status %u\\n", c->status);
    memcpy(t.out, c, len);
    return len;
}
#define CMD_OP(word) ((word) & 0xff)
#define CMD_LEN(word) ((word) >> 8)
static u32 advance(struct cmd *c)
{
    u32 step;

    if (CMD_OP(c->flags) == 2)
        return 0;
    WARN_ON(CMD_OP(c->flags) != 1);
    step = CMD_LEN(c->flags);
    return step;
}
static u32 drain(u32 n)
{
    struct cmd *c = t.ring;
    u32 total = 0;

    while (n--) {
        if (c->flags > 4)
            break;
        c++;
        total += c->flags;
    }
    return total;
}
static long t_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
    struct mbox *mb;

    switch (cmd) {
    case 1:
        mb = vzalloc(8 * PAGE_SIZE);
        if (!mb)
            return -ENOMEM;
        t.mb = mb;
        t.ring = (void *)mb + 64;
        t.mem[0].addr = (unsigned long)t.mb;
        return 0;
    case 2:
        return complete_one(t.ring + (t.mb->tail % 8) * sizeof(struct cmd));
    case 3:
        return drain(arg);
    case 4:
        vfree(t.mb);
        return 0;
    case 5:
        return advance(t.ring);
    }
    return -ENOTTY;
}
static const struct file_operations t_fops = { .mmap = t_mmap, .unlocked_ioctl = t_ioctl };
"""


def test_a_double_fetch_through_a_pointer_into_a_mailbox_mapped_by_a_fault_handler(
    kernel_facts: Parse,
) -> None:
    shared = shared_of(kernel_facts, MAILBOX_RING)
    # t.mem[0].addr is what the fault handler maps; it is a copy of t.mb, the memory itself
    assert shared.buffers[(function(shared, "t_fault").file, "mb")].export.api == "a .fault handler"
    assert shared.place(function(shared, "complete_one"), "c->len") == Place("mb", "[].len")
    found = [(f.second.function.name, f.second.text, f.first.location.line) for f in double_fetches(shared)]
    # complete_one: len compared, then read again and used; the status re-read only feeds a message;
    # drain(): the pointer moves between the check and the next read, which reads another entry;
    # advance(): the word's opcode is tested (again in a WARN_ON), then its length read: two values
    line = next(n.location.line for n in function(shared, "complete_one").nodes if "c->len &&" in n.text)
    assert found == [("complete_one", "c->len", line)]


# -- a double fetch split over two functions the same caller calls in turn ----------------------------
SPLIT = """
struct note { u32 kind; u32 len; u8 body[64]; };
struct nchan { struct mutex lock; struct note *box; u8 out[64]; };
static struct nchan nc;
static int nc_mmap(struct file *f, struct vm_area_struct *vma)
{
    return remap_vmalloc_range(vma, nc.box, 0);
}
static int note_ok(struct nchan *c)
{
    struct note *n = c->box;

    if (n->len > sizeof(c->out))
        return -EINVAL;
    return 0;
}
static void note_take(struct nchan *c)
{
    struct note *n = c->box;

    memcpy(c->out, n->body, n->len);
}
static void note_log(struct nchan *c)
{
    struct note *n = c->box;
    u32 seen = n->len;

    pr_info("note of %u bytes\\n", seen);
}
static void note_mark(struct nchan *c)
{
    struct note *n = c->box;
    u32 at = n->len % sizeof(c->out);

    c->out[at] = 1;
}
static u32 note_len_once(struct nchan *c)
{
    u32 len = READ_ONCE(c->box->len);

    return len > sizeof(c->out) ? 0 : len;
}
static void note_take_len(struct nchan *c, u32 len)
{
    memcpy(c->out, c->box->body, len);
}
static long nc_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
    switch (cmd) {
    case 1:
        if (note_ok(&nc))
            return -EINVAL;
        note_take(&nc);
        return 0;
    case 2:
        if (note_ok(&nc))
            return -EINVAL;
        note_log(&nc);
        return 0;
    case 3:
        note_take_len(&nc, note_len_once(&nc));
        return 0;
    case 4:
        if (note_ok(&nc))
            return -EINVAL;
        note_mark(&nc);
        return 0;
    }
    return -ENOTTY;
}
static const struct file_operations nc_fops = { .mmap = nc_mmap, .unlocked_ioctl = nc_ioctl };
"""


def test_a_check_in_one_function_and_a_re_read_in_the_next_is_a_double_fetch(tmp_path: Path) -> None:
    # parsed with the kernel tree's own headers (Debian's, found by default), end to end
    if not Path("/lib/modules/6.1.0-57-amd64/build").is_dir():
        pytest.skip("Debian's 6.1 kernel headers are not installed")
    source = HEADERS + SPLIT
    (tmp_path / "nchan.c").write_text(source)
    env = {k: v for k, v in os.environ.items() if k != "GUPCHECK_KERNEL_DIR"}
    done = subprocess.run(
        [sys.executable, "-m", "gupcheck", "--format", "json", "--select", "GUP004", "nchan.c"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    report = json.loads(done.stdout)
    assert report["problems"] == []
    lines = source.splitlines()
    take = 1 + next(i for i, text in enumerate(lines) if "memcpy(c->out, n->body, n->len)" in text)
    check = 1 + next(i for i, text in enumerate(lines) if "n->len > sizeof(c->out)" in text)
    # case 1: note_ok() checks n->len, note_take() reads it again for the copy's length: reported;
    # case 2: note_log() reads it again only for a message (through a local): not reported;
    # case 3: the length is fetched once, checked, and the checked copy is passed on: not reported;
    # case 4: note_mark() reads it again but takes it modulo the array's size: not reported
    found = [
        (f["function"], f["line"]) for f in report["findings"] if f["message"].startswith("double fetch")
    ]
    assert found == [("note_take", take)]
    (finding,) = [f for f in report["findings"] if f["message"].startswith("double fetch")]
    assert (
        f"checked on line {check} in note_ok(), which nc_ioctl() calls before note_take()"
        in finding["message"]
    )

"""GUP004's analyses on small kernel snippets: locksets on every path (lock kinds, conditional
acquisition, helper summaries, callers' context), shared buffers and the places inside them,
and the sub-checks' look-alikes that testdata does not spell out."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gupcheck.analyses.locksets import LockSets, kernel_lock_classifier
from gupcheck.analyses.sharedmem import Place, SharedMemory
from gupcheck.model.facts import TranslationUnitFacts
from gupcheck.model.program import Program
from gupcheck.rules.unlocked_shared_mapping.counters import racy_counters
from gupcheck.rules.unlocked_shared_mapping.double_fetch import double_fetches
from gupcheck.rules.unlocked_shared_mapping.unchecked_use import unchecked_uses
from gupcheck.rules.unlocked_shared_mapping.unlocked import unlocked_accesses

HEADERS = """
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/rwsem.h>
#include <linux/semaphore.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/dma-mapping.h>
#include <linux/io.h>
#include <linux/string.h>
#include <linux/uaccess.h>
struct dev {
    struct mutex lock;
    spinlock_t slock;
    rwlock_t rwl;
    struct rw_semaphore rws;
    struct semaphore sem;
    char *buf;
    int count;
};
"""

Parse = Callable[[str], TranslationUnitFacts]


def program_of(kernel_facts: Parse, source: str) -> Program:
    return Program([kernel_facts(HEADERS + source)])


def held_at(program: Program, function: str, text: str) -> frozenset:
    """Locks held on entry to the statement of `function` spelled `text`."""
    fn = next(f for f in program.functions.values() if f.name == function)
    node = next(n for n in fn.nodes if n.text == text)
    return LockSets(program, program.side_of(fn), kernel_lock_classifier(program.api)).held(fn, node.id)


@pytest.mark.parametrize(
    "take, drop",
    [
        ("mutex_lock(&d->lock);", "mutex_unlock(&d->lock);"),
        ("spin_lock(&d->lock);", "spin_unlock(&d->lock);"),
        ("spin_lock_bh(&d->lock);", "spin_unlock_bh(&d->lock);"),
        ("spin_lock_irq(&d->lock);", "spin_unlock_irq(&d->lock);"),
        ("spin_lock_irqsave(&d->lock, flags);", "spin_unlock_irqrestore(&d->lock, flags);"),
        ("read_lock(&d->lock);", "read_unlock(&d->lock);"),
        ("write_lock_irqsave(&d->lock, flags);", "write_unlock_irqrestore(&d->lock, flags);"),
        ("down_read(&d->lock);", "up_read(&d->lock);"),
        ("down_write(&d->lock);", "up_write(&d->lock);"),
        ("down(&d->lock);", "up(&d->lock);"),
    ],
)
def test_every_lock_kind_is_held_between_its_acquire_and_release(
    kernel_facts: Parse, take: str, drop: str
) -> None:
    kinds = {
        "mutex": "struct mutex",
        "spin": "spinlock_t",
        "read": "rwlock_t",
        "write": "rwlock_t",
        "down_": "struct rw_semaphore",
        "down(": "struct semaphore",
    }
    lock_type = next(t for prefix, t in kinds.items() if take.startswith(prefix))
    program = program_of(
        kernel_facts,
        f"""
        struct holder {{ {lock_type} lock; int value; }};
        void touch(struct holder *d)
        {{
            unsigned long flags = 0;
            {take}
            d->value = 1;
            {drop}
            d->value = 2;
            (void)flags;
        }}
    """,
    )
    assert held_at(program, "touch", "d->value = 1") == {"lock"}
    assert held_at(program, "touch", "d->value = 2") == frozenset()


def test_conditional_acquisitions_hold_on_the_success_branch_only(kernel_facts: Parse) -> None:
    program = program_of(
        kernel_facts,
        """
        int interruptible(struct dev *d)
        {
            if (mutex_lock_interruptible(&d->lock))
                return -EINTR;
            d->count = 1;
            mutex_unlock(&d->lock);
            return 0;
        }
        int trylock(struct dev *d)
        {
            if (!spin_trylock(&d->slock)) {
                d->count = 3;
                return -EBUSY;
            }
            d->count = 2;
            spin_unlock(&d->slock);
            return 0;
        }
        int semaphore_trylock(struct dev *d)
        {
            if (down_trylock(&d->sem))
                return -EBUSY;
            d->count = 4;
            up(&d->sem);
            return 0;
        }
        int assigned(struct dev *d)
        {
            int ret = down_interruptible(&d->sem);

            if (ret)
                return ret;
            d->count = 5;
            up(&d->sem);
            return 0;
        }
    """,
    )
    assert held_at(program, "interruptible", "d->count = 1") == {"lock"}
    assert held_at(program, "trylock", "d->count = 2") == {"slock"}
    assert held_at(program, "trylock", "d->count = 3") == frozenset()
    assert held_at(program, "semaphore_trylock", "d->count = 4") == {"sem"}
    assert held_at(program, "assigned", "d->count = 5") == {"sem"}


def test_a_lock_released_on_one_path_is_not_held_after_the_join(kernel_facts: Parse) -> None:
    program = program_of(
        kernel_facts,
        """
        void maybe(struct dev *d, int drop)
        {
            mutex_lock(&d->lock);
            if (drop)
                mutex_unlock(&d->lock);
            d->count = 1;
        }
    """,
    )
    assert held_at(program, "maybe", "d->count = 1") == frozenset()


def test_helper_summaries_and_callers_context(kernel_facts: Parse) -> None:
    program = program_of(
        kernel_facts,
        """
        static int grab(struct dev *d) { return mutex_lock_interruptible(&d->lock); }
        static void drop(struct dev *d) { mutex_unlock(&d->lock); }
        static void under_lock(struct dev *d) { d->count++; }
        static void mixed(struct dev *d) { d->count--; }
        static void balanced(struct dev *d) { mutex_lock(&d->lock); d->count = 0; mutex_unlock(&d->lock); }
        long entry(struct file *f, unsigned int cmd, unsigned long arg)
        {
            struct dev *d = f->private_data;

            if (grab(d))
                return -EINTR;
            under_lock(d);
            mixed(d);
            drop(d);
            d->count = 7;
            mixed(d);
            balanced(d);
            d->count = 8;
            return 0;
        }
        static const struct file_operations fops = { .unlocked_ioctl = entry };
    """,
    )
    locks = LockSets(
        program, program.side_of(program.functions["entry"]), kernel_lock_classifier(program.api)
    )
    by_name = {fn.name: fn for fn in program.functions.values()}
    assert locks.summaries[by_name["grab"].key].acquires == {"lock"}
    assert locks.summaries[by_name["drop"].key].releases == {"lock"}
    balanced = locks.summaries.get(by_name["balanced"].key)
    assert balanced is None or not (balanced.acquires or balanced.releases)
    assert locks.context(by_name["under_lock"]) == {"lock"}
    assert locks.context(by_name["mixed"]) == frozenset()  # called once with, once without
    assert held_at(program, "entry", "under_lock(d)") == {"lock"}
    assert held_at(program, "entry", "d->count = 7") == frozenset()
    assert held_at(program, "entry", "d->count = 8") == frozenset()


def test_exports_name_their_buffers(kernel_facts: Parse) -> None:
    program = program_of(
        kernel_facts,
        """
        struct ring { u32 len; u32 head; u8 data[64]; };
        struct exp {
            void *vbuf; void *pbuf; char *page_buf; void *dbuf; struct ring *ring;
            dma_addr_t handle; struct device *dev; unsigned long phys;
        };
        static struct exp e;
        static char table[PAGE_SIZE];
        static int ex_mmap(struct file *f, struct vm_area_struct *vma)
        {
            unsigned long pfn = virt_to_phys(e.pbuf) >> PAGE_SHIFT;

            switch (vma->vm_pgoff) {
            case 0: return remap_vmalloc_range(vma, e.vbuf, 0);
            case 1: return remap_pfn_range(vma, vma->vm_start, pfn, PAGE_SIZE, vma->vm_page_prot);
            case 2: return vm_insert_page(vma, vma->vm_start, virt_to_page(e.page_buf));
            case 3: return dma_mmap_coherent(e.dev, vma, e.dbuf, e.handle, PAGE_SIZE);
            case 4: return remap_pfn_range(vma, vma->vm_start, e.phys >> PAGE_SHIFT, PAGE_SIZE,
                                           vma->vm_page_prot);
            default: return -EINVAL;
            }
        }
        static vm_fault_t ex_fault(struct vm_fault *vmf)
        {
            struct page *page = vmalloc_to_page(table + (vmf->pgoff << PAGE_SHIFT));

            get_page(page);
            vmf->page = page;
            return 0;
        }
        static const struct vm_operations_struct ex_vm_ops = { .fault = ex_fault };
        static const struct file_operations ex_fops = { .mmap = ex_mmap };
        static int __init ex_init(void)
        {
            e.vbuf = vmalloc(PAGE_SIZE);
            e.pbuf = kzalloc(PAGE_SIZE, GFP_KERNEL);
            e.page_buf = (char *)get_zeroed_page(GFP_KERNEL);
            e.dbuf = dma_alloc_coherent(e.dev, PAGE_SIZE, &e.handle, GFP_KERNEL);
            e.ring = vmalloc_user(PAGE_SIZE);
            memset(table, 0, sizeof(table));
            return 0;
        }
        module_init(ex_init);
    """,
    )
    shared = SharedMemory(program)
    keys = {key for _file, key in shared.buffers}
    # the physical address is an integer, never treated as memory: not a buffer
    assert keys == {"vbuf", "pbuf", "page_buf", "dbuf", "ring", "table"}
    apis = {key: buffer.export.api for (_file, key), buffer in shared.buffers.items()}
    assert apis["dbuf"] == "dma_mmap_attrs()"  # dma_mmap_coherent() is a macro
    assert apis["table"] == "a .fault handler"
    ring = shared.buffers[(program.units[0].path, "ring")]
    assert apis["ring"] == "vmalloc_user()" and not ring.export.mapped


def test_places_through_aliases_fields_and_helpers(kernel_facts: Parse) -> None:
    program = program_of(
        kernel_facts,
        """
        struct hdr { u32 len; struct { u32 seq; } slots[4]; };
        struct ctx { struct hdr *ring; int other; };
        static void fill(struct hdr *h) { h->len = 0; }
        static int rx_mmap(struct file *f, struct vm_area_struct *vma)
        {
            struct ctx *c = f->private_data;

            return remap_vmalloc_range(vma, c->ring, 0);
        }
        static long rx_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
        {
            struct ctx *c = f->private_data;
            struct hdr *h = c->ring;
            u32 n = h->len;

            fill(c->ring);
            h->slots[n & 3].seq = 1;
            return c->other + n;
        }
        static const struct file_operations rx_fops = { .mmap = rx_mmap, .unlocked_ioctl = rx_ioctl };
    """,
    )
    shared = SharedMemory(program)
    by_name = {fn.name: fn for fn in program.functions.values()}
    ioctl, fill = by_name["rx_ioctl"], by_name["fill"]
    assert shared.place(ioctl, "c->ring->len") == Place("ring", ".len")
    assert shared.place(ioctl, "h->len") == Place("ring", ".len")
    assert shared.place(ioctl, "h->slots[].seq") == Place("ring", ".slots[].seq")
    assert shared.place(ioctl, "c->other") is None
    assert shared.place(fill, "h->len") == Place("ring", ".len")  # a parameter the caller fills
    loads = {(a.place.suffix, a.write) for a in shared.accesses(ioctl)}
    assert (".len", False) in loads and (".slots[].seq", True) in loads


def test_unlocked_reads_matter_only_against_locked_writes(kernel_facts: Parse) -> None:
    source = """
        struct sd { struct mutex lock; char *buf; };
        static struct sd s;
        static int sd_mmap(struct file *f, struct vm_area_struct *vma)
        {
            return remap_vmalloc_range(vma, s.buf, 0);
        }
        static ssize_t sd_read(struct file *f, char __user *u, size_t n, loff_t *pos)
        {
            mutex_lock(&s.lock);
            if (copy_to_user(u, s.buf, 16)) {
                mutex_unlock(&s.lock);
                return -EFAULT;
            }
            mutex_unlock(&s.lock);
            return 16;
        }
        static ssize_t sd_peek(struct file *f, char __user *u, size_t n, loff_t *pos)
        {
            return copy_to_user(u, s.buf, 16) ? -EFAULT : 16;
        }
        static const struct file_operations sd_fops = { .mmap = sd_mmap, .read = sd_read,
                                                        .read_iter = (void *)sd_peek };
        static int __init sd_init(void) { s.buf = vmalloc_user(PAGE_SIZE); return 0; }
        module_init(sd_init);
    """
    reads_only = SharedMemory(program_of(kernel_facts, source))
    assert unlocked_accesses(reads_only) == []
    with_write = SharedMemory(
        program_of(
            kernel_facts,
            source.replace(
                "if (copy_to_user(u, s.buf, 16)) {",
                "s.buf[0] = 1;\n            if (copy_to_user(u, s.buf, 16)) {",
            ),
        )
    )
    (unlocked,) = unlocked_accesses(with_write)
    assert unlocked.access.function.name == "sd_peek" and unlocked.lock == "s.lock"


def test_plain_counters_only_on_shared_state_in_vm_callbacks(kernel_facts: Parse) -> None:
    program = program_of(
        kernel_facts,
        """
        struct region { spinlock_t lock; int maps; atomic_t live; struct { unsigned long hits; } stats; };
        static unsigned long faults;
        static void bump(struct region *r, int by_value) { by_value++; r->maps += by_value; }
        static int rg_busy(struct region *r) { return r->maps > 0 || faults > 100; }
        static void rg_report(struct region *r, void *out) { memcpy(out, &r->stats, sizeof(r->stats)); }
        static void rg_open(struct vm_area_struct *vma)
        {
            struct region *r = vma->vm_private_data;
            struct region copy = *r;
            int local = 0;

            local++;
            copy.maps++;
            vma->vm_pgoff += 1;
            atomic_inc(&r->live);
            spin_lock(&r->lock);
            r->maps++;
            spin_unlock(&r->lock);
            bump(r, local);
            faults++;
            r->stats.hits++;  /* a statistic: only copied out whole, never read back */
        }
        static const struct vm_operations_struct rg_ops = { .open = rg_open };
    """,
    )
    found = sorted((c.function.name, c.target, c.op, c.role) for c in racy_counters(SharedMemory(program)))
    assert found == [("bump", "r->maps", "+=", "vm_open"), ("rg_open", "faults", "++", "vm_open")]


def test_lock_commands_pair_a_lock_left_held_with_its_release(kernel_facts: Parse) -> None:
    program = program_of(
        kernel_facts,
        """
        #define LK _IO('k', 1)
        #define UNLK _IO('k', 2)
        #define WORK _IO('k', 3)
        static struct dev d;
        static long lk_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
        {
            switch (cmd) {
            case LK:
                return down_interruptible(&d.sem);
            case UNLK:
                up(&d.sem);
                return 0;
            case WORK:
                down(&d.sem);
                d.buf[0] = 1;
                up(&d.sem);
                return 0;
            }
            return -ENOTTY;
        }
        static int lk_mmap(struct file *f, struct vm_area_struct *vma)
        {
            return remap_vmalloc_range(vma, d.buf, 0);
        }
        static const struct file_operations lk_fops = { .unlocked_ioctl = lk_ioctl, .mmap = lk_mmap };
        static int __init lk_init(void) { d.buf = vmalloc_user(PAGE_SIZE); return 0; }
        module_init(lk_init);
    """,
    )
    commands = {(c.macro, c.action, c.key) for c in SharedMemory(program).lock_commands()}
    assert commands == {("LK", "acquire", "sem"), ("UNLK", "release", "sem")}


def test_marked_accesses_are_one_fetch_each_and_not_plain_accesses(kernel_facts: Parse) -> None:
    program = program_of(
        kernel_facts,
        """
        struct ring { u32 head; u32 tail; u32 slots[16]; };
        struct rdev { struct mutex lock; struct ring *ring; u32 out[16]; };
        static struct rdev r;
        static int rg_mmap(struct file *f, struct vm_area_struct *vma)
        {
            return remap_vmalloc_range(vma, r.ring, 0);
        }
        static long rg_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
        {
            u32 head = smp_load_acquire(&r.ring->head);
            u32 tail = READ_ONCE(r.ring->tail);

            if (head == tail)
                return -EAGAIN;
            r.out[tail & 15] = r.ring->slots[tail & 15];
            smp_store_release(&r.ring->tail, tail + 1);
            return 0;
        }
        static const struct file_operations rg_fops = { .mmap = rg_mmap, .unlocked_ioctl = rg_ioctl };
        static int __init rg_init(void) { r.ring = vmalloc_user(PAGE_SIZE); return 0; }
        module_init(rg_init);
    """,
    )
    shared = SharedMemory(program)
    ioctl = next(fn for fn in program.functions.values() if fn.name == "rg_ioctl")
    marked = {(a.place.suffix, a.write) for a in shared.accesses(ioctl) if a.marked}
    assert marked == {(".head", False), (".tail", False), (".tail", True)}
    assert {f.text for f in shared.fetches(ioctl) if f.marked} == {"r.ring->head", "r.ring->tail"}
    assert unchecked_uses(shared) == [] and double_fetches(shared) == []


def test_a_lock_reached_through_a_call_is_named_by_its_last_field() -> None:
    """`mutex_lock(&to_gt(i915)->ggtt->vm.mutex)` has no access path (a call is on the way): it is the
    same lock as `&ggtt->vm.mutex`, by the last field spelled."""
    from gupcheck.analyses.locksets import lock_key
    from gupcheck.model.facts import Value

    assert lock_key(Value("&to_gt(i915)->ggtt->vm.mutex")) == "mutex"
    assert lock_key(Value("&ggtt->vm.mutex", path="ggtt->vm.mutex")) == "mutex"
    assert lock_key(Value("lock_of(dev)")) is None

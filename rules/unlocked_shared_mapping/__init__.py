"""GUP004 unlocked-shared-mapping: memory shared with user space through mmap used without the
synchronisation it needs.

One module a sub-check; each decides from what `analyses.sharedmem` knows and words its findings.
"""

from __future__ import annotations

from collections.abc import Iterator

from gupcheck.analyses.context import Analyses
from gupcheck.model.findings import Finding, Level
from gupcheck.model.rule import Rule, RuleDoc
from gupcheck.rules.unlocked_shared_mapping import (
    brackets,
    counters,
    double_fetch,
    mapped_free,
    unchecked_use,
    unlocked,
)

DOC = RuleDoc(
    id="GUP004",
    name="unlocked-shared-mapping",
    level=Level.WARNING,
    cwe=("CWE-362", "CWE-367", "CWE-416", "CWE-667"),
    summary="Memory shared with user space through mmap used without the synchronisation it needs",
    what_it_does="""
Finds the buffers a driver maps into user space (pages handed out by a `.fault` handler,
`remap_pfn_range`, `vm_insert_page(s)`, `remap_vmalloc_range`, `dma_mmap_coherent`, `vmalloc_user`
memory) or otherwise shares with it (user pages it pins and maps with `vmap`/`kmap`, types declared
in `[api] shared-types`), the pointers into them it keeps (locals, parameters, struct fields),
every kernel access to them and the locks held there on every path (mutexes, spinlocks in all
their forms, rw locks, rw semaphores, semaphores, through helpers that return with a lock held or
release it). It reports: an access that holds none of the locks the other accesses to the same
buffer hold, a `WRITE_ONCE` among them when it is one of several fields updated that way
(warning); a counter changed with plain `++`, `--`, `+=` or `-=` in a
`vm_operations_struct` callback without a lock (warning); a value in a buffer user space can write
that is checked and then read again, or used as a length or index without being copied once and
checked (error: a double fetch); a buffer shared by every opener of the device freed in `.release`
while no `vm_close` callback tracks its mappings, or freed by a `vm_close` callback whose ops let a
vma be split or copied unseen (no counting `.open`, no `.may_split`) (warning). With the userland
programs, when the driver offers lock and unlock ioctls (a command that returns with a lock held that another
releases, or that sets a lock word in the shared page), it reports the program's reads and writes
of its `MAP_SHARED` mapping of the device made outside a lock...unlock bracket (warning).
""",
    why_bad="""
Kernel and user space share no lock: the driver must serialise its own accesses and stay correct
whatever user space writes. An access that skips the lock the rest of the driver takes races with
them. `vm_open` and `vm_close` run for mappings in different processes at the same time (each
holds only its own mmap_lock), so a plain increment loses counts and frees the buffer while it is
still mapped. User space can rewrite the shared page between two reads: a length checked in the
first read is not the length of the second (a double fetch). A mapping keeps its own file open,
not the other openers' files: freeing a device-wide buffer when one file is released leaves the
other processes' mappings pointing at freed pages.
""",
    example="""
static ssize_t ring_write(struct file *file, const char __user *buf, size_t n, loff_t *pos)
{
	struct ring_dev *dev = file->private_data;

	/* every other access to dev->ring holds dev->lock */
	if (copy_from_user(dev->ring->data, buf, min(n, RING_DATA)))
		return -EFAULT;
	return n;
}

static long ring_take(struct ring_dev *dev)
{
	struct ring_hdr *hdr = dev->ring;	/* mapped writable into user space */

	if (hdr->len > RING_DATA)		/* checked ... */
		return -EINVAL;
	memcpy(dev->msg, hdr->data, hdr->len);	/* ... and read again: a double fetch */
	return 0;
}
""",
    use_instead="""
static ssize_t ring_write(struct file *file, const char __user *buf, size_t n, loff_t *pos)
{
	struct ring_dev *dev = file->private_data;
	ssize_t ret = n;

	mutex_lock(&dev->lock);
	if (copy_from_user(dev->ring->data, buf, min(n, RING_DATA)))
		ret = -EFAULT;
	mutex_unlock(&dev->lock);
	return ret;
}

static long ring_take(struct ring_dev *dev)
{
	struct ring_hdr *hdr = dev->ring;
	u32 len = READ_ONCE(hdr->len);		/* one fetch, into a local */

	if (len > RING_DATA)
		return -EINVAL;
	memcpy(dev->msg, hdr->data, len);	/* only the checked copy is used */
	return 0;
}
""",
    references=(
        "https://docs.kernel.org/dev-tools/kcsan.html",
        "https://docs.kernel.org/core-api/wrappers/memory-barriers.html",
        "https://cwe.mitre.org/data/definitions/362.html",
        "https://cwe.mitre.org/data/definitions/367.html",
    ),
    links_userland=True,
)


def check(context: Analyses) -> Iterator[Finding]:
    shared = context.shared_memory
    yield from unlocked.findings(shared)
    yield from counters.findings(shared)
    yield from double_fetch.findings(shared)
    yield from unchecked_use.findings(shared)
    yield from mapped_free.findings(shared)
    yield from brackets.findings(context.program, shared)


RULE = Rule(DOC, check)

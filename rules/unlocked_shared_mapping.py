"""GUP004 unlocked-shared-mapping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from gupcheck.analyses.context import Analyses
from gupcheck.analyses.sharedmem import (
    Access,
    DoubleFetch,
    MappedFree,
    RacyCounter,
    SharedBuffer,
    UnbracketedAccess,
    UncheckedUse,
    UnlockedAccess,
)
from gupcheck.model.findings import Finding, FlowStep, Level, RelatedLocation
from gupcheck.model.rule import Rule, RuleDoc

DOC = RuleDoc(
    id="GUP004",
    name="unlocked-shared-mapping",
    level=Level.WARNING,
    cwe=("CWE-362", "CWE-367", "CWE-416", "CWE-667"),
    summary="Memory shared with user space through mmap used without the synchronisation it needs",
    what_it_does="""
Finds the buffers a driver maps into user space (pages handed out by a `.fault` handler,
`remap_pfn_range`, `vm_insert_page(s)`, `remap_vmalloc_range`, `dma_mmap_coherent`, `vmalloc_user`
memory), every kernel access to them and the locks held there on every path (mutexes, spinlocks
in all their forms, rw locks, rw semaphores, semaphores, through helpers that return with a lock
held or release it). It reports: an access that holds none of the locks the other accesses to the
same buffer hold (warning); a counter changed with plain `++`, `--`, `+=` or `-=` in a
`vm_operations_struct` callback without a lock (warning); a value in a buffer user space can write
that is checked and then read again, or used as a length or index without being copied once and
checked (error: a double fetch); a buffer shared by every opener of the device freed in `.release`
while no `vm_close` callback tracks its mappings (warning). With the userland programs, when the
driver offers lock and unlock ioctls (a command that returns with a lock held that another
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
    for unlocked in shared.unlocked_accesses():
        yield _unlocked(unlocked)
    for counter in shared.racy_counters():
        yield _racy_counter(counter)
    for double in shared.double_fetches():
        yield _double_fetch(double)
    for use in shared.unchecked_uses():
        yield _unchecked_use(use)
    for free in shared.mapped_frees():
        yield _mapped_free(free)
    for access in shared.unbracketed_accesses():
        yield _unbracketed(access)


RULE = Rule(DOC, check)


def _exported(buffer: SharedBuffer) -> list[RelatedLocation]:
    return [RelatedLocation(buffer.export.location, buffer.export.describe(buffer.spelling))]


def _unlocked(found: UnlockedAccess) -> Finding:
    access, buffer = found.access, found.buffer
    locked = found.locked_example
    return Finding(
        rule_id=DOC.id,
        level=Level.WARNING,
        message=(
            f"{_describe(access)} '{buffer.spelling}', shared with user space through mmap, without "
            f"holding '{found.lock}' (a {found.lock_kind}), which the other accesses to it hold"
        ),
        location=access.location,
        function=access.function.name,
        snippet_key=f"{access.how}:{access.text}",
        related=[
            *_exported(buffer),
            RelatedLocation(
                locked.location, f"accessed with '{found.lock}' held in {locked.function.name}()"
            ),
        ],
        hint=f"take '{found.lock}' around this access, as the other accesses to '{buffer.spelling}' do",
    )


def _racy_counter(found: RacyCounter) -> Finding:
    return Finding(
        rule_id=DOC.id,
        level=Level.WARNING,
        message=(
            f"'{found.target}' is changed with a plain '{found.op}' in code run by the {found.role} "
            "callback of a vm_operations_struct, without a lock: the callbacks of mappings in "
            "different processes run concurrently"
        ),
        location=found.location,
        function=found.function.name,
        snippet_key=f"{found.target}{found.op}",
        hint="make it an atomic_t or refcount_t (atomic_inc()/atomic_dec_and_test(), refcount_inc()), "
        "a kref, or change it under the driver's lock",
    )


def _double_fetch(found: DoubleFetch) -> Finding:
    first, second = found.first, found.second
    return Finding(
        rule_id=DOC.id,
        level=Level.ERROR,
        message=(
            f"double fetch: '{second.text}' is read again from '{found.buffer.spelling}', which user "
            f"space can write through its mapping, after it was checked on line {first.location.line}"
        ),
        location=second.location,
        function=second.function.name,
        snippet_key=f"double-fetch:{second.text}",
        related=[RelatedLocation(first.location, f"'{first.text}' checked here"), *_exported(found.buffer)],
        flow=[
            FlowStep(first.location, f"'{first.text}' fetched and checked"),
            FlowStep(second.location, f"'{second.text}' fetched again: user space may have changed it"),
        ],
        hint=f"read it once into a local (`v = READ_ONCE({first.text});`), check the local and use only it",
    )


def _unchecked_use(found: UncheckedUse) -> Finding:
    fetch = found.fetch
    via = "" if found.value_text == fetch.text else f" (from '{fetch.text}')"
    use = "a length" if found.use == "length" else "an index"
    return Finding(
        rule_id=DOC.id,
        level=Level.ERROR,
        message=(
            f"'{found.value_text}'{via} is used as {use} without a check, but user space can write it "
            f"through its mapping of '{found.buffer.spelling}'"
        ),
        location=found.use_location,
        function=fetch.function.name,
        snippet_key=f"unchecked-{found.use}:{found.value_text}",
        related=[
            RelatedLocation(fetch.location, f"'{fetch.text}' fetched from the shared buffer here"),
            *_exported(found.buffer),
        ],
        flow=[
            FlowStep(fetch.location, f"'{fetch.text}' fetched from shared memory"),
            FlowStep(found.use_location, f"used as {found.use} without a bound"),
        ],
        hint=(
            f"bound '{found.value_text}' before using it "
            f"(`if ({found.value_text} > LIMIT) return -EINVAL;`, or mask it with the ring size)"
            if fetch.copied_to
            else f"copy it once (`v = READ_ONCE({fetch.text});`) and bound the copy before using it "
            "(or mask it with the ring size)"
        ),
    )


def _mapped_free(found: MappedFree) -> Finding:
    buffer = found.buffer
    arg = next((a.text for a in found.call.args if a.path and buffer.key in a.path), buffer.spelling)
    return Finding(
        rule_id=DOC.id,
        level=Level.WARNING,
        message=(
            f"'{buffer.spelling}' is freed by {found.call.callee}() when a file is released "
            f"({found.release.name}()), but it is shared with every opener of the device through mmap "
            "and no vm_close callback tracks its mappings: another process may still map it"
        ),
        location=found.call.location,
        function=found.function.name,
        snippet_key=f"{found.call.callee}({arg})",
        related=_exported(buffer),
        hint="free it when the last mapping and the last opener are gone (count them, e.g. in "
        "vm_open/vm_close and .open/.release), or give each open file its own buffer",
    )


def _unbracketed(found: UnbracketedAccess) -> Finding:
    access, lock, unlock = found.access, found.lock_command, found.unlock_command
    lock_name = lock.macro or hex(lock.value or 0)
    unlock_name = unlock.macro or hex(unlock.value or 0)
    return Finding(
        rule_id=DOC.id,
        level=Level.WARNING,
        message=(
            f"{_describe(access)} the device's shared mapping outside the {lock_name}...{unlock_name} "
            f"ioctl bracket the driver {Path(lock.handler.file).name} provides for it"
        ),
        location=access.location,
        function=access.function.name,
        snippet_key=f"{access.how}:{access.text}",
        related=[
            RelatedLocation(lock.location, f"the driver's lock command {lock_name} ({lock.how})"),
            RelatedLocation(unlock.location, f"the driver's unlock command {unlock_name}"),
            RelatedLocation(found.mapped_at, "mapped with MAP_SHARED here"),
        ],
        hint=f"call ioctl(fd, {lock_name}) before touching the mapping and ioctl(fd, {unlock_name}) after",
    )


def _describe(access: Access) -> str:
    """ "memcpy() writes", "a load of 'hdr->len' reads"."""
    verb = "writes" if access.write else "reads"
    if access.how.endswith("()"):
        return f"{access.how} {verb}"
    return f"the {access.how} '{access.text}' {verb}"

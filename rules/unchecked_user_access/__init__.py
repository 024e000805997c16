"""GUP005 unchecked-user-access: user memory accessed without the checks the uaccess API requires.

One module a sub-check; each decides from what `analyses.uaccess` and `analyses.usercontrol` know on
every path, and words its findings.
"""

from __future__ import annotations

from collections.abc import Iterator

from gupcheck.analyses.context import Analyses
from gupcheck.model.findings import Finding, Level
from gupcheck.model.rule import Rule, RuleDoc
from gupcheck.rules.unchecked_user_access import (
    double_fetch,
    ignored_results,
    unbounded_lengths,
    unchecked_accessors,
    user_pointer_derefs,
)

DOC = RuleDoc(
    id="GUP005",
    name="unchecked-user-access",
    level=Level.ERROR,
    cwe=("CWE-20", "CWE-119", "CWE-252", "CWE-367", "CWE-822"),
    summary="User memory accessed without the checks the uaccess API requires",
    what_it_does="""
Checks every access to user memory in kernel code: `__copy_from_user`, `__copy_to_user`,
`__get_user`, `__put_user` and `__clear_user` on a pointer that no `access_ok` (or a driver
helper that checks the range) covers on every path before it (a check in every caller counts);
an ignored result of `copy_from_user`, `copy_to_user`, `get_user`, `put_user`, `clear_user`,
`strncpy_from_user` or of the unchecked `__` copies and accessors (also a result kept in a
variable that is never read, only logged before going on, or only tested for a negative value,
which a byte count of `copy_*_user` never is); a length that user space
controls (the ioctl argument, a field of a struct copied from user space, the `count` of
read/write) used to copy into or out of a fixed-size kernel object without a bound; a user
pointer dereferenced directly; and a double fetch, where the same user address is copied twice
and the second copy's size or length is trusted, there or in a function it is handed to.
""",
    why_bad="""
The double-underscore variants skip the range check, so a user-supplied kernel address reads or
overwrites kernel memory. `copy_*_user` return the number of bytes not copied: ignoring it uses
uninitialised data or reports success for a failed copy. An unbounded length overflows the
kernel object. A direct dereference bypasses the fault handling and faults (or oopses under
SMAP). Between two fetches user space can change the data, so a length checked in the first
copy is not the length in the second.
""",
    example="""
static long demo_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct demo_req req;
	char buf[64];

	copy_from_user(&req, (void __user *)arg, sizeof(req));   /* result ignored */
	if (copy_from_user(buf, req.data, req.len))             /* req.len unbounded */
		return -EFAULT;
	return 0;
}
""",
    use_instead="""
static long demo_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct demo_req req;
	char buf[64];

	if (copy_from_user(&req, (void __user *)arg, sizeof(req)))
		return -EFAULT;
	if (req.len > sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, req.data, req.len))
		return -EFAULT;
	return 0;
}
""",
    references=(
        "https://docs.kernel.org/core-api/kernel-api.html#c.copy_from_user",
        "https://www.kernel.org/doc/html/latest/process/deprecated.html",
        "https://cwe.mitre.org/data/definitions/367.html",
    ),
)


def check(context: Analyses) -> Iterator[Finding]:
    program = context.program
    for fn in sorted(program.kernel_functions(), key=lambda f: (f.file, f.location.line)):
        yield from unchecked_accessors.findings(context, fn)
        yield from ignored_results.findings(context, fn)
        yield from unbounded_lengths.findings(context, fn)
        yield from user_pointer_derefs.findings(context, fn)
        yield from double_fetch.findings(context, fn)


RULE = Rule(DOC, check)

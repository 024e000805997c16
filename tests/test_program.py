"""The program layer: call graph across files, static linkage, entry points from ops tables."""

from __future__ import annotations

from gupcheck.model.program import Program

DRIVER = """
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

int shared_helper(int x);
static int local_helper(int x) { return shared_helper(x) + 1; }

static vm_fault_t my_fault(struct vm_fault *vmf) { return 0; }
static void my_vm_close(struct vm_area_struct *vma) { }
static const struct vm_operations_struct my_vm_ops = { .fault = my_fault, .close = my_vm_close };

static int my_mmap(struct file *file, struct vm_area_struct *vma)
{
    vma->vm_ops = &my_vm_ops;
    return 0;
}

#define MY_IOC_RESET _IO('m', 1)
#define MY_IOC_SET _IOW('m', 2, int)
static long my_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
    switch (cmd) {
    case MY_IOC_RESET:
        return 0;
    case MY_IOC_SET:
        return local_helper((int)arg);
    }
    return -ENOTTY;
}

static const struct file_operations my_fops = {
    .owner = THIS_MODULE,
    .unlocked_ioctl = my_ioctl,
    .compat_ioctl = my_ioctl,
    .mmap = my_mmap,
};
static struct miscdevice my_misc = { .minor = MISC_DYNAMIC_MINOR, .name = "p", .fops = &my_fops };
static int __init my_init(void) { return misc_register(&my_misc); }
module_init(my_init);
"""

HELPERS = """
static int local_helper(int x) { return x; }
int shared_helper(int x) { return local_helper(x) * 2; }
"""


def test_call_graph_links_files_and_respects_static(kernel_facts):
    driver = kernel_facts(DRIVER, "driver.c")
    helpers = kernel_facts(HELPERS, "helpers.c")
    program = Program([driver, helpers])
    ioctl = program.resolve("my_ioctl", driver.path)
    driver_local = program.resolve("local_helper", driver.path)
    other_local = program.resolve("local_helper", helpers.path)
    shared = program.resolve("shared_helper", driver.path)
    assert driver_local is not other_local
    assert program.callgraph.has_edge(ioctl.key, driver_local.key)
    assert program.callgraph.has_edge(driver_local.key, shared.key)
    assert program.callgraph.has_edge(shared.key, other_local.key)
    assert not program.callgraph.has_edge(driver_local.key, other_local.key)
    assert [ref.caller.name for ref in program.callers(shared)] == ["local_helper"]


def test_entry_points_have_their_syscall_roles(kernel_facts):
    driver = kernel_facts(DRIVER, "driver.c")
    program = Program([driver])
    roles = {
        program.functions[key].name: sorted(e.role for e in entries)
        for key, entries in program.entry_points.items()
    }
    assert roles == {
        "my_ioctl": ["compat_ioctl", "ioctl"],
        "my_mmap": ["mmap"],
        "my_fault": ["fault"],
        "my_vm_close": ["vm_close"],
        "my_init": ["module_init"],
    }
    syscall_names = {fn.name for fn, _ in program.syscall_entry_points()}
    assert "my_init" not in syscall_names and "my_ioctl" in syscall_names
    mmap = program.resolve("my_mmap", driver.path)
    fault = program.resolve("my_fault", driver.path)
    edge_kinds = {data["kind"] for data in program.callgraph.get_edge_data(mmap.key, fault.key).values()}
    assert edge_kinds == {"installs"}


def test_ioctl_commands_and_switch_dispatch(kernel_facts):
    driver = kernel_facts(DRIVER, "driver.c")
    program = Program([driver])
    commands = {c.name: (c.direction, c.value) for c in driver.ioctl_commands}
    assert commands == {
        "MY_IOC_RESET": ("_IO", (ord("m") << 8) | 1),
        "MY_IOC_SET": ("_IOW", (1 << 30) | (4 << 16) | (ord("m") << 8) | 2),
    }
    ioctl = program.resolve("my_ioctl", driver.path)
    cases = {(macro, value) for macro, value, _node in program.ioctl_dispatch(ioctl)}
    assert cases == {("MY_IOC_RESET", commands["MY_IOC_RESET"][1]), ("MY_IOC_SET", commands["MY_IOC_SET"][1])}
    assert program.ioctl_dispatch(program.resolve("my_mmap", driver.path)) == []


def test_an_analysis_leaves_networkx_unimported_until_the_graph_is_asked_for(tmp_path) -> None:
    """The rules walk calls through `callers()`/`callee()`; networkx (~0.15 s to import) is loaded
    only for `Program.callgraph`."""
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "testdata" / "example"
    script = (
        "import sys\n"
        "from gupcheck.pipeline.engine import analyse\n"
        "from gupcheck.model.program import Program\n"
        "from gupcheck.rules import ALL_RULES\n"
        f"analysis = analyse([{str(example)!r}], ALL_RULES, cache_dir=None, jobs=1)\n"
        "assert analysis.findings, 'the example has findings'\n"
        "print('networkx' in sys.modules)\n"
        "program = Program(analysis.units)\n"
        "assert program.callgraph.number_of_edges() > 0\n"
        "print('networkx' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]

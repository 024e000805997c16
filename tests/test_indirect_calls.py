"""Calls through pointers and the entries of every subsystem: function tables recorded with each
element's command, indirect calls resolved to what the pointer can hold, ioctl dispatch by table,
subsystem ops tables and non-syscall contexts (work items, page faults) with their own wording."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from gupcheck.frontend.buildconfig import BuildConfig
from gupcheck.frontend.parse import extract_facts
from gupcheck.kernel_api.entries import MAX_INDIRECT_TARGETS, Role, context_words
from gupcheck.model.program import Program
from gupcheck.pipeline.engine import analyse
from gupcheck.rules import ALL_RULES

TABLES = """
#include <linux/fs.h>
#include <linux/ioctl.h>
#include <linux/kernel.h>

#define TB_IOC_START _IOW('t', 1, int)
#define TB_IOC_STOP _IO('t', 2)
#define TB_IOC_QUERY _IOR('t', 3, int)

struct tb_dev;
struct tb_cmd {
    unsigned int nr;
    long (*run)(struct tb_dev *dev, unsigned long arg);
    const char *label;
};
typedef long (*tb_fn)(struct tb_dev *dev, unsigned long arg);

static long tb_start(struct tb_dev *dev, unsigned long arg) { return 0; }
static long tb_stop(struct tb_dev *dev, unsigned long arg) { return 1; }
static long tb_query(struct tb_dev *dev, unsigned long arg) { return 2; }

static const struct tb_cmd tb_pairs[] = {
    { TB_IOC_START, tb_start, "start" },
    { .nr = TB_IOC_STOP, .run = tb_stop },
};
static const tb_fn tb_by_nr[] = {
    [_IOC_NR(TB_IOC_QUERY)] = tb_query,
    [_IOC_NR(TB_IOC_STOP)] = tb_stop,
};

static long tb_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
    struct tb_dev *dev = file->private_data;
    unsigned int i;

    for (i = 0; i < ARRAY_SIZE(tb_pairs); i++)
        if (tb_pairs[i].nr == cmd)
            return tb_pairs[i].run(dev, arg);
    if (_IOC_NR(cmd) < ARRAY_SIZE(tb_by_nr) && tb_by_nr[_IOC_NR(cmd)])
        return tb_by_nr[_IOC_NR(cmd)](dev, arg);
    return -ENOTTY;
}

static const struct file_operations tb_fops = { .unlocked_ioctl = tb_ioctl };
"""


def _fields(facts, variable):
    table = next(t for t in facts.ops_tables if t.variable == variable)
    return table, [(f.field, f.function, f.element, f.command, f.command_value) for f in table.fields]


def test_function_tables_are_recorded_with_each_element_and_its_command(kernel_facts):
    facts = kernel_facts(TABLES, "tables.c")
    values = {c.name: c.value for c in facts.ioctl_commands}
    start = (1 << 30) | (4 << 16) | (ord("t") << 8) | 1
    stop = (ord("t") << 8) | 2
    pairs, fields = _fields(facts, "tb_pairs")
    assert pairs.is_array and pairs.struct == "tb_cmd"
    # `{CMD, fn}` positional and `{.nr = CMD, .run = fn}` designated: the element's named constant
    assert fields == [
        ("run", "tb_start", 0, "TB_IOC_START", start),
        ("run", "tb_stop", 1, "TB_IOC_STOP", stop),
    ]
    by_nr, fields = _fields(facts, "tb_by_nr")
    # `[_IOC_NR(CMD)] = fn`: the element sits at the command's number and names the command
    assert by_nr.is_array
    assert fields == [("", "tb_query", 3, "TB_IOC_QUERY", None), ("", "tb_stop", 2, "TB_IOC_STOP", None)]
    assert "TB_IOC_QUERY" in values


def test_calls_through_tables_reach_the_handlers_from_the_ioctl_with_their_commands(kernel_facts):
    facts = kernel_facts(TABLES, "tables.c")
    program = Program([facts])
    ioctl = program.resolve("tb_ioctl", facts.path)
    reached = {
        call.callee: sorted(fn.name for fn in program.targets(ioctl, call))
        for _node, call in ioctl.call_sites()
        if call.indirect
    }
    assert reached == {"tb_pairs[].run": ["tb_start", "tb_stop"], "tb_by_nr[]": ["tb_query", "tb_stop"]}
    for name in ("tb_start", "tb_stop", "tb_query"):
        handler = program.resolve(name, facts.path)
        assert program.roles_reaching(handler) == {Role.IOCTL}  # reached from the ioctl, not entries
        assert not program.roles(handler)
    # two targets: no single callee for a summary to be applied through
    assert all(program.callee(ioctl, call) is None for _node, call in ioctl.call_sites() if call.indirect)
    commands = {(macro, fn.name) for macro, _value, _node, fn in program.ioctl_table_commands(ioctl)}
    assert commands == {
        ("TB_IOC_START", "tb_start"),
        ("TB_IOC_STOP", "tb_stop"),
        ("TB_IOC_QUERY", "tb_query"),
    }
    dispatched = {macro for macro, _value, _node in program.ioctl_dispatch(ioctl)}
    assert dispatched == {"TB_IOC_START", "TB_IOC_STOP", "TB_IOC_QUERY"}


FIELDS = """
#include <linux/kernel.h>
#include <linux/fs.h>

struct engine;
struct engine_ops { int (*kick)(struct engine *e); };
struct timer_ops { int (*kick)(struct engine *e); };
struct engine { const struct engine_ops *ops; int (*done)(struct engine *e); };

static int fast_kick(struct engine *e) { return 1; }
static int slow_kick(struct engine *e) { return 2; }
static int timer_kick(struct engine *e) { return 3; }
static int on_done(struct engine *e) { return 4; }
static int never_stored(struct engine *e) { return 5; }

static const struct engine_ops fast_ops = { .kick = fast_kick };
static const struct engine_ops slow_ops = { .kick = slow_kick };
static const struct timer_ops timer = { .kick = timer_kick };

static int run_with(int (*step)(struct engine *), struct engine *e) { return step(e); }

static long eng_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
    struct engine *e = file->private_data;

    e->done = on_done;
    run_with(never_stored == NULL ? slow_kick : fast_kick, e);
    run_with(on_done, e);
    return e->ops->kick(e) + e->done(e);
}
"""


def test_calls_through_fields_and_parameters_reach_what_tables_and_callers_put_there(kernel_facts):
    facts = kernel_facts(FIELDS, "fields.c")
    program = Program([facts])
    ioctl = program.resolve("eng_ioctl", facts.path)
    reached = {
        call.callee: sorted(fn.name for fn in program.targets(ioctl, call))
        for _node, call in ioctl.call_sites()
        if call.indirect
    }
    # the field of that structure type only: timer_ops.kick holds timer_kick, engine_ops.kick does not;
    # `e->done = on_done` in code is a callback registered for later, recorded but not a callee
    assert reached == {"e->ops->kick": ["fast_kick", "slow_kick"], "e->done": []}
    kick = next(call for _node, call in ioctl.call_sites() if call.callee == "e->ops->kick")
    assert program.callee(ioctl, kick) is None  # two targets: no single callee for summaries
    assert [(s.record, s.field, s.function) for s in facts.pointer_stores] == [("engine", "done", "on_done")]
    # a pointer parameter: the functions its callers pass (a conditional expression is not a name)
    run_with = program.resolve("run_with", facts.path)
    step = next(call for _node, call in run_with.call_sites() if call.indirect)
    assert [fn.name for fn in program.targets(run_with, step)] == ["on_done"]
    assert program.callee(run_with, step) is program.resolve("on_done", facts.path)
    assert "never_stored" not in {fn.name for _n, _c, fn in program.callees(ioctl)}


def test_a_call_that_can_reach_too_many_functions_stays_unresolved_with_a_note(kernel_facts):
    count = MAX_INDIRECT_TARGETS + 1
    handlers = "\n".join(f"static int h{i}(int x) {{ return x + {i}; }}" for i in range(count))
    table = ", ".join(f"h{i}" for i in range(count))
    source = f"""
    {handlers}
    static int (*const wide[])(int) = {{ {table} }};
    static int (*const narrow[])(int) = {{ h0, h1 }};
    int pick(int i) {{ return wide[i](i) + narrow[i](i); }}
    """
    facts = kernel_facts(source, "wide.c")
    program = Program([facts])
    pick = program.resolve("pick", facts.path)
    reached = {call.callee: len(program.targets(pick, call)) for _node, call in pick.call_sites()}
    assert reached == {"wide[]": 0, "narrow[]": 2}
    notes = [(u.function.name, u.what, u.reason) for u in program.unfinished]
    assert notes == [
        ("pick", "the call through 'wide[]' at line 21", f"can reach {count} functions (more than 16)")
    ]


def test_a_run_says_which_calls_through_a_pointer_it_left_unresolved(tmp_path: Path) -> None:
    count = MAX_INDIRECT_TARGETS + 1
    handlers = "\n".join(f"static int h{i}(int x) {{ return x + {i}; }}" for i in range(count))
    table = ", ".join(f"h{i}" for i in range(count))
    source = tmp_path / "wide.c"
    source.write_text(
        f"{handlers}\nstatic int (*const wide[])(int) = {{ {table} }};\n"
        "int pick(int i) { return wide[i](i); }\n"
    )
    analysis = analyse([str(source)], ALL_RULES, use_model=True)
    assert [note for note in analysis.notes if "wide[]" in note] == [
        f"{source}:{count + 2}: call graph: pick() not fully analysed: the call through 'wide[]' at line "
        f"{count + 2} can reach {count} functions (more than {MAX_INDIRECT_TARGETS})"
    ]


WORK = """
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/workqueue.h>

struct wk_dev { struct work_struct flush; };
static void wk_flush(struct work_struct *work) { }
static vm_fault_t wk_fault(struct vm_fault *vmf) { return 0; }
static const struct vm_operations_struct wk_vm_ops = { .fault = wk_fault };

static int wk_open(struct inode *inode, struct file *file)
{
    struct wk_dev *dev = file->private_data;

    INIT_WORK(&dev->flush, wk_flush);
    return 0;
}
static const struct file_operations wk_fops = { .open = wk_open };
"""


def test_work_items_and_page_faults_are_contexts_of_their_own_not_syscalls(kernel_facts):
    facts = kernel_facts(WORK, "work.c")
    program = Program([facts])
    flush = program.resolve("wk_flush", facts.path)
    assert program.roles(flush) == {Role.WORK}
    assert "wk_flush" not in {fn.name for fn, _entry in program.syscall_entry_points()}
    assert context_words(Role.WORK) == "the work item"
    assert context_words(Role.FAULT) == "the page fault"
    assert context_words(Role.IOCTL) == "the ioctl syscall"
    assert all(
        "syscall" not in context_words(role) for role in (Role.FAULT, Role.PAGE_MKWRITE, Role.VM_CLOSE)
    )


FAULT_KEEPS = """
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>

struct fk_ctx { struct page *page; unsigned long uaddr; };

static vm_fault_t fk_fault(struct vm_fault *vmf)
{
    struct fk_ctx *ctx = vmf->vma->vm_private_data;

    if (get_user_pages_fast(ctx->uaddr, 1, FOLL_WRITE, &ctx->page) != 1)
        return VM_FAULT_SIGBUS;
    return VM_FAULT_NOPAGE;
}
static const struct vm_operations_struct fk_vm_ops = { .fault = fk_fault };
"""


def test_a_pin_kept_by_a_fault_handler_is_worded_as_a_page_fault(tmp_path):
    source = tmp_path / "fk.c"
    source.write_text(FAULT_KEEPS)
    analysis = analyse([str(source)], ALL_RULES, cache_dir=None, jobs=1, use_model=True)
    messages = [f.message for f in analysis.findings if f.rule_id == "GUP001"]
    assert messages and all("after the page fault returns" in m for m in messages), messages
    assert not any("syscall" in m for m in messages)


def _debian_headers() -> str:
    trees = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))
    if not trees:
        pytest.skip("no Debian kernel headers")
    return trees[-1]


SUBSYSTEMS = """
#include <linux/module.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/tty_driver.h>
#include <media/v4l2-ioctl.h>
#include <media/v4l2-dev.h>
#include <rdma/ib_verbs.h>
#include <drm/drm_drv.h>
#include <drm/drm_ioctl.h>

struct sub_pin { __u64 addr; };
#define DRM_SUB_PIN 0x00
#define DRM_IOCTL_SUB_PIN DRM_IOWR(DRM_COMMAND_BASE + DRM_SUB_PIN, struct sub_pin)

static int sub_qbuf(struct file *file, void *fh, struct v4l2_buffer *b) { return 0; }
static const struct v4l2_ioctl_ops sub_v4l2_ops = { .vidioc_qbuf = sub_qbuf };

static int sub_drm_pin(struct drm_device *dev, void *data, struct drm_file *file) { return 0; }
static const struct drm_ioctl_desc sub_drm_ioctls[] = {
    DRM_IOCTL_DEF_DRV(SUB_PIN, sub_drm_pin, DRM_RENDER_ALLOW),
};

static struct ib_mr *sub_reg_user_mr(struct ib_pd *pd, u64 start, u64 length, u64 virt, int access,
                                     struct ib_udata *udata) { return NULL; }
static const struct ib_device_ops sub_ib_ops = { .reg_user_mr = sub_reg_user_mr };

static int sub_tty_ioctl(struct tty_struct *tty, unsigned int cmd, unsigned long arg) { return 0; }
static const struct tty_operations sub_tty_ops = { .ioctl = sub_tty_ioctl };

static int sub_eth_ioctl(struct net_device *dev, struct ifreq *ifr, int cmd) { return 0; }
static const struct net_device_ops sub_netdev_ops = { .ndo_eth_ioctl = sub_eth_ioctl };

static int sub_sendmsg(struct socket *sock, struct msghdr *m, size_t len) { return 0; }
static const struct proto_ops sub_proto_ops = { .sendmsg = sub_sendmsg };
MODULE_LICENSE("GPL");
"""


def test_subsystem_ops_tables_are_entries_with_their_roles_with_real_headers(tmp_path):
    tree = _debian_headers()
    source = tmp_path / "subsystems.c"
    source.write_text(SUBSYSTEMS)
    facts = extract_facts(BuildConfig(kernel_dir=tree).config_for(str(source)))
    assert not facts.errors, [d.message for d in facts.errors][:3]
    program = Program([facts])
    roles = {
        program.functions[key].name: sorted(e.role for e in entries)
        for key, entries in program.entry_points.items()
    }
    assert roles == {
        "sub_qbuf": [Role.V4L2_IOCTL],
        "sub_drm_pin": [Role.DRM_IOCTL],
        "sub_reg_user_mr": [Role.RDMA_VERB],
        "sub_tty_ioctl": [Role.IOCTL],
        "sub_eth_ioctl": [Role.NETDEV_IOCTL],
        "sub_sendmsg": [Role.SENDMSG],
    }
    drm = next(t for t in facts.ops_tables if t.variable == "sub_drm_ioctls")
    # DRM_IOCTL_DEF_DRV(SUB_PIN, ...) sits at the command's number and names DRM_IOCTL_SUB_PIN
    assert [(f.field, f.function, f.command) for f in drm.fields] == [
        ("func", "sub_drm_pin", "DRM_IOCTL_SUB_PIN")
    ]
    assert len(program.syscall_entry_points()) == 6


def test_the_new_testdata_case_is_flagged_only_through_its_command_table() -> None:
    case = Path(__file__).resolve().parent.parent / "testdata" / "gup001" / "ioctl-command-table"
    analysis = analyse([str(case)], ALL_RULES, cache_dir=None, jobs=1, use_model=True)
    found = [(f.rule_id, f.location.line, f.function) for f in analysis.findings if f.rule_id == "GUP001"]
    assert found == [("GUP001", 64, "smp_attach")]
    message = next(f.message for f in analysis.findings if f.rule_id == "GUP001")
    assert "after the ioctl syscall returns" in message


OLD_VERBS = """
#include <linux/module.h>
#include <rdma/ib_verbs.h>

static struct ib_mr *old_reg_user_mr(struct ib_pd *pd, u64 start, u64 length, u64 virt, int access,
                                     struct ib_udata *udata) { return NULL; }

static void old_setup(struct ib_device *ibdev)
{
    ibdev->reg_user_mr = old_reg_user_mr;
}
MODULE_LICENSE("GPL");
"""


def test_verbs_set_one_by_one_in_code_for_an_older_kernel_are_still_entries(tmp_path):
    """Before 5.3 the verbs were fields of ib_device: with 6.1 headers the field is gone and clang
    keeps only the base of `ibdev->reg_user_mr = fn`; its type still names the structure."""
    source = tmp_path / "old_verbs.c"
    source.write_text(OLD_VERBS)
    facts = extract_facts(BuildConfig(kernel_dir=_debian_headers()).config_for(str(source)))
    assert any("reg_user_mr" in d.message for d in facts.errors)  # the field is not in 6.1's ib_device
    assert [(s.record, s.field, s.function) for s in facts.pointer_stores] == [
        ("ib_device", "reg_user_mr", "old_reg_user_mr")
    ]
    program = Program([facts])
    assert program.roles(program.resolve("old_reg_user_mr", facts.path)) == {Role.RDMA_VERB}

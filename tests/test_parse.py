"""The parse layer: real libclang parses of small kernel snippets, checked fact by fact."""

from __future__ import annotations

import pickle

from gupcheck.model.facts import NodeKind, ValueKind

HEADERS = """
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/slab.h>
#include <linux/string.h>
"""


def function(facts, name):
    return next(fn for fn in facts.functions if fn.name == name)


def calls(fn, callee):
    return [call for node in fn.nodes for call in node.calls if call.callee == callee]


def test_arguments_are_classified(kernel_facts):
    facts = kernel_facts(
        HEADERS
        + """
    static char table[16];
    struct req { u32 len; char __user *data; };
    long f(struct req *param, unsigned long arg)
    {
        char stack_buf[8];
        struct req local;
        char *heap = kmalloc(64, GFP_KERNEL);
        memcpy(stack_buf, table, sizeof(stack_buf));
        memcpy(&local, param, 4);
        memcpy(heap, param->data, local.len);
        return 0;
    }
    """
    )
    fn = function(facts, "f")
    first, second, third = calls(fn, "memcpy")
    assert first.args[0].kind == ValueKind.STACK and first.args[0].fixed_size == 8
    assert first.args[1].kind == ValueKind.GLOBAL and first.args[1].fixed_size == 16
    assert first.args[2].is_sizeof and first.args[2].const_value == 8
    assert second.args[0].kind == ValueKind.STACK and second.args[0].address_of
    assert second.args[1].kind == ValueKind.PARAM
    assert second.args[2].kind == ValueKind.CONST and second.args[2].const_value == 4
    assert third.args[0].kind == ValueKind.LOCAL and third.args[0].fixed_size is None
    assert third.args[1].path == "param->data" and third.args[1].user_pointer
    assert third.args[2].path == "local.len" and third.args[2].names == ("local.len",)
    init = calls(fn, "kmalloc")[0]
    assert init.assigned_to == "heap"
    store = next(s for node in fn.nodes for s in node.stores if s.target.path == "heap")
    assert store.value.kind == ValueKind.HEAP


def test_constant_arguments_keep_value_and_macro_spelling(kernel_facts):
    facts = kernel_facts(
        HEADERS
        + """
    #define DEMO_CMD _IOWR('d', 7, struct page *)
    void g(unsigned long x, unsigned int y);
    void f(void) { g(DEMO_CMD, FOLL_WRITE | FOLL_LONGTERM); g(PAGE_SIZE, 3); }
    """
    )
    fn = function(facts, "f")
    first, second = calls(fn, "g")
    assert first.args[0].macro == "DEMO_CMD"
    assert first.args[0].const_value == (3 << 30) | (8 << 16) | (ord("d") << 8) | 7
    assert first.args[1].const_value is not None and first.args[1].const_value & 0x1
    assert second.args[0].macro == "PAGE_SIZE" and second.args[0].const_value == 4096
    assert second.args[1].const_value == 3 and second.args[1].macro is None
    command = next(c for c in facts.ioctl_commands if c.name == "DEMO_CMD")
    assert (command.direction, command.type_text, command.nr_text) == ("_IOWR", "'d'", "7")


def test_macro_calls_are_call_sites_with_text_arguments(kernel_facts):
    facts = kernel_facts(
        HEADERS
        + """
    long f(int __user *uptr)
    {
        int v;
        get_user(v, uptr);
        if (unlikely(!access_ok(uptr, sizeof(*uptr))))
            return -EFAULT;
        return 0;
    }
    """
    )
    fn = function(facts, "f")
    (get,) = calls(fn, "get_user")
    assert get.via_macro and not get.result_used
    assert [a.text for a in get.args] == ["v", "uptr"]
    assert get.args[1].kind == ValueKind.PARAM and get.args[1].user_pointer
    branch = next(node for node in fn.nodes if node.kind == NodeKind.BRANCH)
    facts_when_false = branch.condition.facts(False)
    assert [(atom.call.callee, outcome) for atom, outcome in facts_when_false] == [("access_ok", True)]


def test_control_flow_of_if_switch_loop_goto(kernel_facts):
    facts = kernel_facts(
        HEADERS
        + """
    #define CMD_A 1
    int f(unsigned int cmd, int n)
    {
        int i, r = 0;
        switch (cmd) {
        case CMD_A:
            r = 1;
            break;
        case 2:
        case 3:
            r = 2;
            /* fall through */
        default:
            r += 3;
        }
        for (i = 0; i < n; i++) {
            if (i == 5)
                goto out;
            if (i == 2)
                continue;
        }
        return r;
    out:
        return -1;
    }
    """
    )
    fn = function(facts, "f")
    switch = next(node for node in fn.nodes if node.kind == NodeKind.SWITCH)
    cases = sorted((e.case_value, e.case_macro) for e in switch.succs if e.label == "case")
    assert cases == [(1, "CMD_A"), (2, None), (3, None)]
    assert any(e.label == "default" for e in switch.succs)
    returns = [node for node in fn.nodes if node.kind == NodeKind.RETURN]
    assert len(returns) == 2
    label = next(node for node in fn.nodes if node.kind == NodeKind.LABEL and node.text == "out")
    goto_sources = [node for node in fn.nodes if any(e.target == label.id for e in node.succs)]
    assert goto_sources and all("goto" in node.text for node in goto_sources)
    assert all(any(e.target == fn.exit.id for e in node.succs) for node in returns)


def test_ops_tables_module_init_and_nested_fops(kernel_facts):
    facts = kernel_facts(
        HEADERS
        + """
    #include <linux/miscdevice.h>
    static long my_ioctl(struct file *f, unsigned int cmd, unsigned long arg) { return 0; }
    static int my_release(struct inode *i, struct file *f) { return 0; }
    static const struct file_operations my_fops = {
        .owner = THIS_MODULE, .unlocked_ioctl = my_ioctl, .release = my_release,
    };
    static struct miscdevice my_misc = { .minor = MISC_DYNAMIC_MINOR, .name = "m", .fops = &my_fops };
    static int __init my_init(void) { return misc_register(&my_misc); }
    module_init(my_init);
    """
    )
    fops = next(t for t in facts.ops_tables if t.variable == "my_fops")
    assert fops.struct == "file_operations"
    assert {(f.field, f.function) for f in fops.fields} == {
        ("unlocked_ioctl", "my_ioctl"),
        ("release", "my_release"),
    }
    misc = next(t for t in facts.ops_tables if t.variable == "my_misc")
    assert misc.nested == (("fops", "my_fops"),)
    assert facts.module_init == ["my_init"]


def test_derefs_skip_sizeof_and_address_of(kernel_facts):
    facts = kernel_facts(
        HEADERS
        + """
    struct req { int len; };
    int f(struct req __user *u, int *k)
    {
        int v;
        if (get_user(v, &u->len))
            return -EFAULT;
        v += sizeof(*u) + sizeof(u->len);
        return v + *k + u->len;
    }
    """
    )
    fn = function(facts, "f")
    derefs = [d.pointer.text for node in fn.nodes for d in node.derefs]
    assert derefs == ["k", "u"]


def test_ignored_results_and_void_casts(kernel_facts):
    facts = kernel_facts(
        HEADERS
        + """
    int f(void __user *u, char *k)
    {
        unsigned long left;
        copy_from_user(k, u, 4);
        (void)copy_to_user(u, k, 4);
        left = copy_from_user(k, u, 8);
        return left ? -EFAULT : 0;
    }
    """
    )
    fn = function(facts, "f")
    used = [(c.callee, c.result_used) for c in calls(fn, "copy_from_user") + calls(fn, "copy_to_user")]
    assert used == [("copy_from_user", False), ("copy_from_user", True), ("copy_to_user", False)]


def test_facts_are_plain_picklable_data(kernel_facts):
    facts = kernel_facts(HEADERS + "int f(int x) { return x + 1; }\n")
    clone = pickle.loads(pickle.dumps(facts))
    assert clone == facts

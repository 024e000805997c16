"""Must-facts and reachability over the statement-level CFG."""

from __future__ import annotations

import pytest

from gupcheck.analyses.dataflow import cycles, must_facts, reachable_from

SOURCE = """
#include <linux/uaccess.h>
#include <linux/errno.h>
long f(void __user *p, int mode)
{
    char k[4];
    if (mode) {
        if (!access_ok(p, 4))
            return -EFAULT;
        __copy_from_user(k, p, 4);
    }
    __copy_from_user(k, p, 4);
    return 0;
}
"""


def access_ok_facts(node, edge):
    if node.condition is None or edge.label not in ("true", "false"):
        return []
    return [
        atom.call.callee
        for atom, held in node.condition.facts(edge.label == "true")
        if held and atom.call is not None
    ]


def test_fact_from_a_branch_holds_only_where_every_path_has_it(kernel_facts):
    fn = kernel_facts(SOURCE).functions[0]
    facts = must_facts(fn, edge_gen=access_ok_facts)
    copies = [(node, call) for node, call in fn.call_sites() if call.callee == "__copy_from_user"]
    (inner_node, _), (outer_node, _) = sorted(copies, key=lambda nc: nc[1].location.line)
    assert "access_ok" in facts[inner_node.id]
    assert "access_ok" not in facts[outer_node.id]


def test_reachability_follows_edges_forward_only(kernel_facts):
    fn = kernel_facts(SOURCE).functions[0]
    copies = sorted(
        (c.location.line, node.id) for node, c in fn.call_sites() if c.callee == "__copy_from_user"
    )
    first, second = copies[0][1], copies[1][1]
    assert second in reachable_from(fn, first)
    assert first not in reachable_from(fn, second)
    assert fn.exit.id in reachable_from(fn, fn.entry.id)


LOOP = """
#include <linux/mm.h>
void f(struct page **pages, int n)
{
    int i;
    for (i = 0; i < n; i++)
        put_page(pages[i]);
    return;
}
"""


GOTO_WEB = """
#include <linux/mm.h>
int g(int a, int b)
{
    int n = 0;
again:
    while (a-- > 0) {
        if (b & 1)
            goto inner;
        n++;
        do {
inner:
            n += b;
        } while (n < 10);
        if (n == 42)
            goto again;
    }
    if (b-- > 0)
        goto again;
    for (;;)
        if (n++ > 100)
            break;
    return n;
}
"""


@pytest.mark.parametrize("source", [LOOP, GOTO_WEB], ids=["for-loop", "goto-web"])
def test_cycles_are_the_strongly_connected_parts_of_the_cfg(kernel_facts, source):
    fn = kernel_facts(source).functions[0]
    found = cycles(fn)
    for node in fn.nodes:
        both_ways = {
            other.id
            for other in fn.nodes
            if other.id in reachable_from(fn, node.id) and node.id in reachable_from(fn, other.id)
        }
        assert found.get(node.id, frozenset()) == (both_ways if node.id in both_ways else frozenset())


def test_the_loop_test_and_body_share_a_cycle(kernel_facts):
    fn = kernel_facts(LOOP).functions[0]
    found = cycles(fn)
    test = next(node for node in fn.nodes if node.condition is not None)
    put = next(node for node, call in fn.call_sites() if call.callee == "put_page")
    assert {test.id, put.id} <= found[test.id]  # the loop's test and body, through its back edge
    assert fn.exit.id not in found and fn.entry.id not in found


def test_a_condition_lists_the_ways_it_can_take_a_branch() -> None:
    """`a && b` is false when a is false or when b is: two alternatives, where the atoms known on
    every way (`facts`) are none; true, it is one way with both atoms true."""
    from gupcheck.model.facts import Comparison, Condition, Value

    def atom(name: str) -> Condition:
        return Condition("atom", atom=Comparison("value", Value(name, path=name)))

    both = Condition("and", (atom("pages"), Condition("not", (atom("ret"),))))
    false_ways = [[(a.lhs.path, held) for a, held in way] for way in both.alternatives(False)]
    assert false_ways == [[("pages", False)], [("ret", True)]]
    assert both.facts(False) == []
    assert [[(a.lhs.path, held) for a, held in way] for way in both.alternatives(True)] == [
        [("pages", True), ("ret", False)]
    ]
    wide = Condition("or", tuple(atom(f"v{i}") for i in range(20)))
    assert len(wide.alternatives(True, limit=8)) == 1  # past the limit: one way, the certain atoms

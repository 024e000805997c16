"""The statement-level control flow graph of one function body, with each node's events."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import clang.cindex as ci

from gupcheck.frontend.cursors import K, call_arguments, child_cursors, cursor_kind, evaluate_int
from gupcheck.model.facts import (
    CfgNode,
    Edge,
    EdgeLabel,
    Function,
    NodeKind,
    Store,
    Value,
    ValueKind,
    Variable,
)
from gupcheck.model.findings import SourceLocation

if TYPE_CHECKING:
    from gupcheck.frontend.unit import UnitWalker

Exits = list[tuple[CfgNode, EdgeLabel | None]]  # the dangling exits of a statement: (node, edge label)


class FunctionBuilder:
    """Builds the statement-level CFG and the events of one function body."""

    def __init__(self, walker: UnitWalker, cursor: ci.Cursor, key: str) -> None:
        self.walker = walker
        self.cursor = cursor
        self.key = key
        self.nodes: list[CfgNode] = []
        self.params: list[Variable] = []
        self.locals: dict[str, Variable] = {}
        self.labels: dict[str, int] = {}
        self.gotos: list[tuple[int, str]] = []
        self.break_targets: list[int] = []
        self.continue_targets: list[int] = []
        self._switch_stack: list[CfgNode] = []
        self.entry = self._new(NodeKind.ENTRY, self.walker.location(cursor))
        self.exit = self._new(NodeKind.EXIT, None)

    # -- graph plumbing -------------------------------------------------------------
    def _new(self, kind: NodeKind, location: SourceLocation | None, text: str = "") -> CfgNode:
        node = CfgNode(id=len(self.nodes), kind=kind, location=location, text=text)
        self.nodes.append(node)
        return node

    @staticmethod
    def _link(preds: Exits, target: CfgNode) -> None:
        for pred, label in preds:
            pred.succs += (Edge(target.id, label),)

    # -- building -----------------------------------------------------------------
    def build(self) -> Function:
        for index, param in enumerate(call_arguments(self.cursor)):
            var = self.walker.variable(param, is_param=True, index=index)
            self.params.append(var)
        body = next((c for c in child_cursors(self.cursor) if cursor_kind(c) == K.COMPOUND_STMT), None)
        preds: Exits = [(self.entry, None)]
        if body is not None:
            preds = self.stmt(body, preds)
        self._link(preds, self.exit)
        for source, label in self.gotos:
            if label in self.labels:
                self.nodes[source].succs += (Edge(self.labels[label]),)
        name = self.cursor.spelling
        return Function(
            name=name,
            key=self.key,
            file=self.walker.path,
            location=self.walker.location(self.cursor),
            is_static=self.cursor.storage_class == ci.StorageClass.STATIC,
            params=self.params,
            locals=self.locals,
            return_type=self.cursor.result_type.spelling,
            nodes=self.nodes,
        )

    def stmt(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        """Add `cursor` after `preds`; return the dangling exits (node, edge label)."""
        handler = _STATEMENTS.get(cursor._kind_id, FunctionBuilder._expression)
        return handler(self, cursor, preds)

    # -- one handler per statement kind ------------------------------------------------------
    def _compound(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        for child in child_cursors(cursor):
            preds = self.stmt(child, preds)
        return preds

    def _null(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        return preds

    def _return(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        node = self._new(NodeKind.RETURN, self.walker.location(cursor), self.walker.text(cursor))
        self._link(preds, node)
        children = child_cursors(cursor)
        if children:
            self.walker.events.collect(children[0], node, self, result_used=True)
            node.returns = self.walker.values.value(children[0], self)
        node.succs += (Edge(self.exit.id),)
        return []

    def _break(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        if self.break_targets:
            self._link(preds, self.nodes[self.break_targets[-1]])
        return []

    def _continue(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        if self.continue_targets:
            self._link(preds, self.nodes[self.continue_targets[-1]])
        return []

    def _goto(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        node = self._new(NodeKind.STMT, self.walker.location(cursor), self.walker.text(cursor))
        self._link(preds, node)
        target = next((c.spelling for c in child_cursors(cursor) if cursor_kind(c) == K.LABEL_REF), None)
        if target:
            self.gotos.append((node.id, target))  # linked once every label is known
        return []

    def _label(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        node = self._new(NodeKind.LABEL, self.walker.location(cursor), cursor.spelling)
        self.labels[cursor.spelling] = node.id
        self._link(preds, node)
        return self._compound(cursor, [(node, None)])

    def _declaration(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        node = self._new(NodeKind.STMT, self.walker.location(cursor), self.walker.text(cursor))
        self._link(preds, node)
        for decl in child_cursors(cursor):
            if cursor_kind(decl) == K.VAR_DECL:
                self._declare(decl, node)
        return [(node, None)]

    def _expression(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        node = self._new(NodeKind.STMT, self.walker.location(cursor), self.walker.text(cursor))
        self._link(preds, node)
        self.walker.events.collect(cursor, node, self, result_used=False)
        return [(node, None)]

    def _declare(self, decl: ci.Cursor, node: CfgNode) -> None:
        location = node.location
        assert location is not None  # statement nodes have one
        var = self.walker.variable(decl)
        self.locals[var.name] = var
        init = self.walker.initializer(decl)
        if init is not None:
            self.walker.events.collect(init, node, self, result_used=True, assigned_to=var.name)
            target = Value(
                text=var.name, kind=ValueKind.LOCAL, base=var.name, path=var.name, names=(var.name,)
            )
            node.stores += (Store(target, self.walker.values.value(init, self), location),)
            # `struct req r = { .addr = (uintptr_t)buf };` also sets r.addr
            for field_name, value in self.walker.initialised_fields(decl, init):
                path = f"{var.name}.{field_name}"
                field_target = Value(text=path, kind=ValueKind.STACK, base=var.name, path=path, names=(path,))
                node.stores += (Store(field_target, self.walker.values.value(value, self), location),)

    def _branch(self, cond: ci.Cursor, preds: Exits, kind: NodeKind = NodeKind.BRANCH) -> CfgNode:
        node = self._new(kind, self.walker.location(cond), self.walker.text(cond))
        self._link(preds, node)
        self.walker.events.collect(cond, node, self, result_used=True)
        node.condition = self.walker.conditions.condition(cond, self)
        return node

    def _if(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        children = list(child_cursors(cursor))
        while len(children) > 2 and cursor_kind(children[0]) == K.DECL_STMT:
            children.pop(0)  # a declaration in the condition, before it
        if len(children) < 2:
            return self._expression(cursor, preds)  # what clang recovered from a broken `if`
        cond, then = children[0], children[1]
        node = self._branch(cond, preds)
        exits = self.stmt(then, [(node, EdgeLabel.TRUE)])
        if len(children) > 2:
            exits += self.stmt(children[2], [(node, EdgeLabel.FALSE)])
        else:
            exits.append((node, EdgeLabel.FALSE))
        return exits

    def _loop(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        children = child_cursors(cursor)
        if cursor_kind(cursor) == K.DO_STMT:
            body, cond = children[0], children[1] if len(children) > 1 else None
            head = self._new(NodeKind.JOIN, self.walker.location(cursor), "do")
            self._link(preds, head)
            after = self._new(NodeKind.JOIN, None, "do-end")
            latch = self._new(NodeKind.JOIN, None, "do-latch")
            self.break_targets.append(after.id)
            self.continue_targets.append(latch.id)
            exits = self.stmt(body, [(head, None)])
            self.break_targets.pop()
            self.continue_targets.pop()
            self._link(exits, latch)
            if cond is not None:
                branch = self._branch(cond, [(latch, None)])
                branch.succs += (Edge(head.id, EdgeLabel.TRUE),)
                return [(branch, EdgeLabel.FALSE), (after, None)]
            latch.succs += (Edge(head.id),)
            return [(after, None)]

        init = cond = inc = None
        body = children[-1] if children else None
        header = children[:-1]
        if cursor_kind(cursor) == K.WHILE_STMT:
            cond = header[-1] if header else None
        else:
            init, cond, inc = self.walker.for_parts(cursor, header)
        if init is not None:
            init_node = self._new(NodeKind.STMT, self.walker.location(init), self.walker.text(init))
            self._link(preds, init_node)
            if cursor_kind(init) == K.DECL_STMT:
                for decl in child_cursors(init):
                    if cursor_kind(decl) == K.VAR_DECL:
                        self._declare(decl, init_node)
            else:
                self.walker.events.collect(init, init_node, self, result_used=False)
            preds = [(init_node, None)]
        head = self._new(NodeKind.JOIN, self.walker.location(cursor), "loop")
        self._link(preds, head)
        after = self._new(NodeKind.JOIN, None, "loop-end")
        latch = self._new(NodeKind.JOIN, None, "loop-latch")
        if cond is not None:
            branch = self._branch(cond, [(head, None)])
            body_preds: list = [(branch, EdgeLabel.TRUE)]
            branch.succs += (Edge(after.id, EdgeLabel.FALSE),)
        else:
            body_preds = [(head, None)]
        self.break_targets.append(after.id)
        self.continue_targets.append(latch.id)
        exits = self.stmt(body, body_preds) if body is not None else body_preds
        self.break_targets.pop()
        self.continue_targets.pop()
        self._link(exits, latch)
        if inc is not None:
            inc_node = self._new(NodeKind.STMT, self.walker.location(inc), self.walker.text(inc))
            latch.succs += (Edge(inc_node.id),)
            self.walker.events.collect(inc, inc_node, self, result_used=False)
            inc_node.succs += (Edge(head.id),)
        else:
            latch.succs += (Edge(head.id),)
        return [(after, None)]

    def _switch(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        children = child_cursors(cursor)
        cond, body = children[0], children[-1]
        node = self._new(NodeKind.SWITCH, self.walker.location(cursor), self.walker.text(cond))
        self._link(preds, node)
        self.walker.events.collect(cond, node, self, result_used=True)
        node.switch_on = self.walker.values.value(cond, self)
        after = self._new(NodeKind.JOIN, None, "switch-end")
        self.break_targets.append(after.id)
        self._switch_stack.append(node)
        exits = self.stmt(body, [])
        self._switch_stack.pop()
        self.break_targets.pop()
        if not any(e.label == EdgeLabel.DEFAULT for e in node.succs):
            node.succs += (Edge(after.id, EdgeLabel.DEFAULT),)
        self._link(exits, after)
        return [(after, None)]

    def _case(self, cursor: ci.Cursor, preds: Exits) -> Exits:
        children = child_cursors(cursor)
        label = self._new(NodeKind.LABEL, self.walker.location(cursor), self.walker.text(cursor)[:80])
        self._link(preds, label)
        switch = self._switch_stack[-1] if self._switch_stack else None
        if cursor_kind(cursor) == K.CASE_STMT:
            value_cursor = children[0]
            value = evaluate_int(value_cursor)
            macro = self.walker.macros.spelling(value_cursor)
            if switch is not None:
                switch.succs += (Edge(label.id, EdgeLabel.CASE, value, macro),)
            sub = children[-1] if len(children) > 1 else None
        else:
            if switch is not None:
                switch.succs += (Edge(label.id, EdgeLabel.DEFAULT),)
            sub = children[0] if children else None
        preds = [(label, None)]
        if sub is not None:
            preds = self.stmt(sub, preds)
        return preds


_STATEMENTS: dict[int, Callable[[FunctionBuilder, ci.Cursor, Exits], Exits]] = {
    K.COMPOUND_STMT.value: FunctionBuilder._compound,
    K.NULL_STMT.value: FunctionBuilder._null,
    K.IF_STMT.value: FunctionBuilder._if,
    K.WHILE_STMT.value: FunctionBuilder._loop,
    K.FOR_STMT.value: FunctionBuilder._loop,
    K.DO_STMT.value: FunctionBuilder._loop,
    K.SWITCH_STMT.value: FunctionBuilder._switch,
    K.CASE_STMT.value: FunctionBuilder._case,
    K.DEFAULT_STMT.value: FunctionBuilder._case,
    K.RETURN_STMT.value: FunctionBuilder._return,
    K.BREAK_STMT.value: FunctionBuilder._break,
    K.CONTINUE_STMT.value: FunctionBuilder._continue,
    K.GOTO_STMT.value: FunctionBuilder._goto,
    K.LABEL_STMT.value: FunctionBuilder._label,
    K.DECL_STMT.value: FunctionBuilder._declaration,
}  # any other statement is an expression statement

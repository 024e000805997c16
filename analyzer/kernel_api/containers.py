"""Calls that link an object into a longer-lived container, with the position of the object."""

from __future__ import annotations

LINKERS: dict[str, int] = {
    "list_add": 0,
    "list_add_tail": 0,
    "list_add_rcu": 0,
    "list_add_tail_rcu": 0,
    "hlist_add_head": 0,
    "xa_store": 2,
    "xa_insert": 2,
    "__xa_store": 2,
    "idr_alloc": 1,
    "idr_alloc_cyclic": 1,
    "idr_replace": 1,
    "radix_tree_insert": 2,
    "rb_link_node": 0,
    "rb_insert_color": 0,
}

# Calls that put pages into a structure that goes on pointing at them (a scatterlist entry, an sg
# table): the position of that structure and of the page (or pages array). The pages then live as long
# as the structure does: it is followed as the pages are.
PAGE_HOLDERS: dict[str, tuple[int, int]] = {
    "sg_set_page": (0, 1),
    "sg_alloc_table_from_pages": (0, 1),
    "sg_alloc_table_from_pages_segment": (0, 1),
    "__sg_alloc_table_from_pages": (0, 1),
    "sg_alloc_append_table_from_pages": (0, 1),
}

"""The fact codec: what a worker sends and the cache stores decodes to equal facts, with the repeated
immutable pieces of all files held once in the main process."""

from __future__ import annotations

import pickle

import pytest

from gupcheck.model.facts import Edge, Value, ValueKind
from gupcheck.pipeline.factcodec import FactDecoder, encode

DRIVER = """
#include <linux/mm.h>
#include <linux/fs.h>
static long a_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
    struct page *page;
    long ret = get_user_pages_fast(arg, 1, FOLL_WRITE, &page);
    if (ret != 1)
        return -EFAULT;
    put_page(page);
    return 0;
}
"""


def test_decoded_facts_equal_the_facts_encoded(kernel_facts) -> None:
    unit = kernel_facts(DRIVER)
    assert FactDecoder().decode(encode(unit)) == unit


def test_equal_pieces_of_two_files_are_one_object_after_decoding(kernel_facts) -> None:
    first, second = kernel_facts(DRIVER), kernel_facts(DRIVER.replace("a_ioctl", "b_ioctl"))
    decoder = FactDecoder()
    one, two = decoder.decode(encode(first)), decoder.decode(encode(second))
    values_one = [arg for _node, call in one.functions[0].call_sites() for arg in call.args]
    values_two = [arg for _node, call in two.functions[0].call_sites() for arg in call.args]
    assert values_one == values_two
    assert all(a is b for a, b in zip(values_one, values_two, strict=True))  # shared, not copied
    edges_one = [edge for node in one.functions[0].nodes for edge in node.succs]
    edges_two = [edge for node in two.functions[0].nodes for edge in node.succs]
    assert all(a is b for a, b in zip(edges_one, edges_two, strict=True))
    assert one.functions[0].params[0].name is two.functions[0].params[0].name


def test_sharing_is_by_value_within_one_decoder_only() -> None:
    value = Value("n", ValueKind.LOCAL, base="n", path="n", names=("n",))
    payload = encode([value, Edge(3), 10**6, "a long name that repeats"])
    first, second = FactDecoder(), FactDecoder()
    a, b, c = first.decode(payload), first.decode(payload), second.decode(payload)
    assert a == b == c == [value, Edge(3), 10**6, "a long name that repeats"]
    assert all(x is y for x, y in zip(a, b, strict=True))
    assert not any(x is y for x, y in zip(a, c, strict=True))


def test_a_payload_that_is_not_an_encoding_raises() -> None:
    with pytest.raises(Exception):  # noqa: B017 - any unpickling error: the caller treats it as a miss
        FactDecoder().decode(b"not a pickle")
    assert FactDecoder().decode(pickle.dumps({"plain": 1})) == {"plain": 1}

"""Generated request ids (``app.middleware._RequestIds``): 32 hex digits from the system's
random source, never the same twice, in this process or a forked one."""

from __future__ import annotations

import os
import re

import pytest

from app.middleware import _RequestIds


def test_ids_are_32_hex_digits_and_unique_across_refills() -> None:
    ids = _RequestIds()
    drawn = [ids.next() for _ in range(3 * _RequestIds.SIZE // 16 + 5)]  # three refills
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in drawn)
    assert len(set(drawn)) == len(drawn)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_process_does_not_hand_out_its_parent_s_next_ids() -> None:
    ids = _RequestIds()
    ids.next()  # the buffer is filled: a child would otherwise draw from the same bytes
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's side
        os.write(writer, ids.next().encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    in_child = os.read(reader, 64).decode()
    os.close(reader)
    assert re.fullmatch(r"[0-9a-f]{32}", in_child)
    assert in_child != ids.next()

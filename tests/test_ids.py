"""Resource ids: UUIDs version 7, in the order they were made, unguessable (no database)."""

from __future__ import annotations

import time
import uuid

from app.models.base import new_id


def test_an_id_is_a_version_7_uuid_carrying_its_creation_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    made = new_id()
    after = time.time_ns() // 1_000_000
    assert (made.version, made.variant) == (7, uuid.RFC_4122)
    assert before <= made.int >> 80 <= after
    # The text form any client sees is the standard one, and reads back as the same id.
    assert uuid.UUID(str(made)) == made


def test_ids_made_later_sort_later_as_values_and_as_text() -> None:
    earlier = [new_id() for _ in range(50)]
    time.sleep(0.002)
    later = [new_id() for _ in range(50)]
    assert max(earlier) < min(later)
    assert max(str(i) for i in earlier) < min(str(i) for i in later)
    # SQLite stores a UUID as its 32 hex digits: the same order.
    assert max(i.hex for i in earlier) < min(i.hex for i in later)


def test_ids_of_one_millisecond_differ_in_their_random_bits() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    # 74 random bits: in a burst sharing a millisecond, both random fields vary.
    by_millisecond: dict[int, list[uuid.UUID]] = {}
    for made in ids:
        by_millisecond.setdefault(made.int >> 80, []).append(made)
    burst = max(by_millisecond.values(), key=len)
    assert len(burst) > 1
    assert len({i.int >> 64 & 0xFFF for i in burst}) > 1
    assert len({i.int & ((1 << 62) - 1) for i in burst}) == len(burst)

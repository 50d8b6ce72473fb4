"""Paging cursors: every distance comes back to the bit, and cursors written by the earlier
json.dumps encoder still decode."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import cursor
from app.errors import InvalidInput

distances = st.floats(min_value=0, allow_nan=False, allow_infinity=False)


@given(distances, st.uuids())
def test_a_position_comes_back_exactly(distance: float, merchant_id: uuid.UUID) -> None:
    query = cursor.fingerprint("nearby", 60.17, 24.94, "wgs84", 1000.0, [], None, False)
    token = cursor.encode([distance, str(merchant_id)], query)
    assert cursor.decode(token, query, arity=2) == [distance, str(merchant_id)]


@given(distances, st.uuids())
def test_cursors_of_the_json_module_still_decode(distance: float, merchant_id: uuid.UUID) -> None:
    query = cursor.fingerprint("nearby", distance)
    raw = json.dumps([query, distance, str(merchant_id)], separators=(",", ":")).encode()
    token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    assert cursor.decode(token, query, arity=2) == [distance, str(merchant_id)]


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b'{"a": 1}', b"\xff\xfe", b"[NaN]", b'["q", 1.0]', b'["q",1,2,3]']
)
def test_anything_else_is_refused(raw: bytes) -> None:
    token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    with pytest.raises(InvalidInput):
        cursor.decode(token, "q", arity=2)


def test_a_cursor_of_another_query_is_refused() -> None:
    token = cursor.encode([1.0, str(uuid.uuid4())], "one")
    with pytest.raises(InvalidInput, match="different query"):
        cursor.decode(token, "other", arity=2)


@pytest.mark.parametrize(
    "position", [[1.0, 5], [1.0, None], ["far", "x"], [[1.0], str(uuid.uuid4())]]
)
def test_a_position_of_the_wrong_kinds_is_refused(position: list[object]) -> None:
    token = cursor.encode(position, "q")
    with pytest.raises(InvalidInput, match="not a cursor this service issued"):
        cursor.read(token, "q", float, uuid.UUID)


def test_a_position_is_read_by_its_kinds() -> None:
    merchant_id = uuid.uuid4()
    token = cursor.encode([2.5, str(merchant_id)], "q")
    assert cursor.read(token, "q", float, uuid.UUID) == (2.5, merchant_id)

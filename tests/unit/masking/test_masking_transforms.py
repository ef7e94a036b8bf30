"""Transforms on Arrow arrays: shape-keeping partial masks, deterministic tokens, nulls kept."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from dcp.masking.transforms import mask_all, partial, redact, token

KEY = b"project-token-secret"
# values made only of mask characters are their own redaction, so they are left out
TEXT = st.text(alphabet=st.characters(blacklist_characters="*", blacklist_categories=("Cs",)), min_size=1)


def test_partial_keeps_separators_and_last_four() -> None:
    values = pa.array(["4111-1111-1111-1111", "4111 1111 1111 1111", "DE89370400440532013000", None])
    assert partial(values).to_pylist() == [
        "****-****-****-1111",
        "**** **** **** 1111",
        "******************3000",
        None,
    ]


def test_partial_short_values_keep_at_most_half() -> None:
    assert partial(pa.array(["123", "ab", "--12"])).to_pylist() == ["**3", "*b", "****"]


def test_non_string_columns_are_cast_to_string() -> None:
    dates = pa.array([datetime.date(1980, 5, 17), None])
    assert partial(dates).to_pylist() == ["****-*5-17", None]  # the last 4 characters
    assert partial(pa.array([123456789])).to_pylist() == ["*****6789"]
    assert redact(pa.array([Decimal("1.50")])).to_pylist() == ["****"]
    assert token(pa.array([42]), KEY).to_pylist() == token(pa.array(["42"]), KEY).to_pylist()


def test_redact_and_mask_all() -> None:
    assert redact(pa.array(["a", None, ""]), "XXX").to_pylist() == ["XXX", None, "XXX"]
    assert mask_all(pa.array(["Élodie", "ab-c"])).to_pylist() == ["******", "****"]


def test_token_is_deterministic_hex_and_nulls_stay_null() -> None:
    values = pa.array(["alice", "bob", "alice", None])
    tokens = token(values, KEY).to_pylist()
    assert tokens[0] == tokens[2] != tokens[1]
    assert tokens[3] is None
    assert len(tokens[0]) == 32 and int(tokens[0], 16) >= 0


@given(st.lists(TEXT, min_size=1, max_size=20))
@settings(max_examples=200, deadline=None)
def test_partial_keeps_length_and_never_returns_the_original(values: list[str]) -> None:
    masked = partial(pa.array(values)).to_pylist()
    for original, result in zip(values, masked, strict=True):
        assert len(result) == len(original)
        assert result != original


@given(st.lists(TEXT, min_size=1, max_size=20))
@settings(max_examples=200, deadline=None)
def test_no_action_returns_the_original(values: list[str]) -> None:
    array = pa.array(values)
    for result in (redact(array), partial(array), token(array, KEY), mask_all(array)):
        assert all(r != v for r, v in zip(result.to_pylist(), values, strict=True))


@given(st.lists(st.one_of(st.none(), TEXT), max_size=30), st.binary(min_size=1, max_size=64))
@settings(max_examples=100, deadline=None)
def test_token_deterministic_per_key_and_differs_across_keys(values: list[str | None], key: bytes) -> None:
    array = pa.array(values, pa.string())
    first = token(array, key).to_pylist()
    assert first == token(array, key).to_pylist()
    other = token(array, key + b"!").to_pylist()
    for value, mine, theirs in zip(values, first, other, strict=True):
        if value is None:
            assert mine is None and theirs is None
        else:
            assert mine != theirs

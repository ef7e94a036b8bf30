"""DMS change data applied by primary key: the current table, in pure Arrow."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from dcp.gluejob.cdc import apply_changes, keep_current, surviving_sequences
from dcp.gluejob.rawdata import (
    SEQ_FILE,
    SEQ_OP,
    SEQ_ROW,
    RawFile,
    change_order,
    read_raw_file,
    schema_of,
)
from tests.unit.gluejob.gluejob_lake import csv_bytes


def rows(table: pa.Table) -> dict[int, str]:
    return dict(zip(table.column("id").to_pylist(), table.column("name").to_pylist(), strict=True))


def test_updates_replace_deletes_remove_and_a_reinsert_brings_a_key_back() -> None:
    full = pa.table({"id": [1, 2, 3], "name": ["ann", "bob", "cy"]})
    first = pa.table({"Op": ["U", "D", "I"], "id": [1, 2, 4], "name": ["ann2", "bob", "dee"]})
    second = pa.table({"Op": ["I", "U", "D"], "id": [2, 4, 3], "name": ["bob2", "dee2", "cy"]})

    current = apply_changes([full, first, second], "id")

    assert rows(current) == {1: "ann2", 2: "bob2", 4: "dee2"}
    assert current.column_names == ["id", "name"]


def test_later_rows_of_one_file_win_over_earlier_ones() -> None:
    full = pa.table({"id": [1], "name": ["a"]})
    changes = pa.table({"Op": ["U", "U", "D", "I"], "id": [1, 1, 1, 1], "name": ["b", "c", "c", "d"]})
    assert rows(apply_changes([full, changes], "id")) == {1: "d"}


def test_op_codes_are_read_case_insensitively() -> None:
    full = pa.table({"id": [1, 2], "name": ["a", "b"]})
    changes = pa.table({"Op": ["d", "u"], "id": [1, 2], "name": ["a", "B"]})
    assert rows(apply_changes([full, changes], "id")) == {2: "B"}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("IUD"), st.integers(0, 6), st.text("abc", min_size=1, max_size=3)),
        max_size=40,
    ),
    st.integers(1, 5),
)
def test_merge_equals_replaying_the_changes_one_by_one(changes: list[tuple[str, int, str]], files: int) -> None:
    full = pa.table({"id": [0, 1, 2], "name": ["x", "y", "z"]})
    expected = {0: "x", 1: "y", 2: "z"}
    for op, key, name in changes:
        if op == "D":
            expected.pop(key, None)
        else:
            expected[key] = name
    size = max(1, -(-len(changes) // files))
    parts = [full] + [
        pa.table(
            {
                "Op": [c[0] for c in chunk],
                "id": [c[1] for c in chunk],
                "name": [c[2] for c in chunk],
            },
            schema=pa.schema([("Op", pa.string()), ("id", pa.int64()), ("name", pa.string())]),
        )
        for chunk in (changes[i : i + size] for i in range(0, len(changes), size))
    ]
    assert rows(apply_changes(parts, "id")) == expected


def test_two_pass_merge_filters_full_batches_by_the_surviving_sequences(tmp_path: Path) -> None:
    load = tmp_path / "LOAD00000001.csv"
    load.write_bytes(csv_bytes(pa.table({"id": ["1", "2"], "name": ["ann", "bob"]})))
    change = tmp_path / "20240101-000000001.csv"
    change.write_bytes(csv_bytes(pa.table({"Op": ["D", "U"], "id": ["1", "2"], "name": ["ann", "bob2"]})))
    schema = schema_of(load, "csv")
    files = [load, change]
    keys = pa.Table.from_batches(
        [b for i, path in enumerate(files) for b in read_raw_file(path, "csv", schema, i, columns=["id"])]
    )
    survivors = surviving_sequences(keys.select(["id", SEQ_OP, SEQ_FILE, SEQ_ROW]), "id")
    current = [
        keep_current(b, survivors).select(["id", "name"]).to_pylist()
        for i, path in enumerate(files)
        for b in read_raw_file(path, "csv", schema, i)
    ]
    assert current == [[], [{"id": "2", "name": "bob2"}]]


def test_raw_csv_cells_stay_text_exactly_as_written(tmp_path: Path) -> None:
    path = tmp_path / "LOAD00000001.csv"
    path.write_bytes(b'id,zip,note\n1,0123,""\n2,,x\n')
    schema = schema_of(path, "csv")
    batch = next(read_raw_file(path, "csv", schema, 0))
    assert schema == pa.schema([("id", pa.string()), ("zip", pa.string()), ("note", pa.string())])
    assert batch.select(["id", "zip", "note"]).to_pylist() == [
        {"id": "1", "zip": "0123", "note": ""},
        {"id": "2", "zip": "", "note": "x"},
    ]
    assert batch.column(SEQ_OP).to_pylist() == ["I", "I"]  # a full load has no Op column
    assert batch.column(SEQ_ROW).to_pylist() == [0, 1]


def test_a_change_file_missing_a_later_added_column_reads_it_as_null(tmp_path: Path) -> None:
    path = tmp_path / "20240101-000000001.csv"
    path.write_bytes(b"Op,id\nU,1\n")
    schema = pa.schema([("id", pa.string()), ("name", pa.string())])
    batch = next(read_raw_file(path, "csv", schema, 3))
    assert batch.to_pylist() == [{"id": "1", "name": None, SEQ_OP: "U", SEQ_FILE: 3, SEQ_ROW: 0}]


def test_full_load_files_come_first_then_changes_in_name_order() -> None:
    files = [
        RawFile("t/20240102-000000001.csv", 1, "csv", False),
        RawFile("t/LOAD00000002.csv", 1, "csv", True),
        RawFile("t/20240101-000000009.csv", 1, "csv", False),
        RawFile("t/LOAD00000001.csv", 1, "csv", True),
    ]
    assert [f.key for f in change_order(files)] == [
        "t/LOAD00000001.csv",
        "t/LOAD00000002.csv",
        "t/20240101-000000009.csv",
        "t/20240102-000000001.csv",
    ]

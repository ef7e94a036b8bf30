"""Pure parts of the stage drivers: Athena result pages, seed batching and change plans, DMS start types."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pytest

from dcp.pipeline.query import is_access_denied, rows_from_pages
from dcp.pipeline.replicate import full_load_done, start_type
from dcp.pipeline.seed import MAX_PAYLOAD_BYTES, batches, plan_changes, to_table_rows, with_ids


def _page(rows: list[list[str | None]], columns: list[str]) -> dict:
    return {
        "ResultSet": {
            "ResultSetMetadata": {"ColumnInfo": [{"Name": c, "Type": "varchar"} for c in columns]},
            "Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows],
        }
    }


def test_athena_pages_drop_the_header_row_once_and_keep_nulls() -> None:
    cols = ["id", "mail"]
    columns, rows = rows_from_pages([_page([cols, ["1", "a"]], cols), _page([["id", None]], cols)])
    assert columns == ("id", "mail")
    # a data row equal to the header on a later page is data, not a header
    assert rows == [{"id": "1", "mail": "a"}, {"id": "id", "mail": None}]


def test_lake_formation_denials_are_recognised() -> None:
    assert is_access_denied("Insufficient Lake Formation permission(s) on dataset_encrypted")
    assert is_access_denied("Access Denied (Service: Amazon S3)")
    assert not is_access_denied("line 1:8: Column 'x' cannot be resolved")


def test_batches_cover_every_row_in_order_under_the_limits() -> None:
    rows = [[i, "x" * 10] for i in range(11000)]
    parts = list(batches(rows))
    assert [len(p) for p in parts] == [5000, 5000, 1000]
    assert [r for p in parts for r in p] == rows
    wide = [[i, "y" * 20_000] for i in range(600)]
    for part in batches(wide):
        assert len(json.dumps(list(part))) < MAX_PAYLOAD_BYTES


def test_change_plan_is_reproducible_disjoint_and_inserts_new_ids() -> None:
    ids = list(range(1, 201))
    plan = plan_changes(ids, 0.1, 7, "customer")
    assert plan == plan_changes(list(reversed(ids)), 0.1, 7, "customer")
    assert plan != plan_changes(ids, 0.1, 8, "customer")
    assert len(plan.update_ids) == 20 and len(plan.delete_ids) == 10 and len(plan.insert_ids) == 5
    assert not set(plan.update_ids) & set(plan.delete_ids)
    assert set(plan.update_ids) | set(plan.delete_ids) <= set(ids)
    assert plan.insert_ids == (201, 202, 203, 204, 205)
    assert plan_changes([], 0.5, 1, "card").insert_ids == ()
    with pytest.raises(ValueError):
        plan_changes(ids, 1.5, 1, "card")


def test_generated_tables_become_json_ready_rows_and_ids_can_be_replaced() -> None:
    table = pa.table({"id": [1, 2], "birthdate": [date(2000, 1, 2), None]})
    rows = to_table_rows("customer", table)
    assert rows.columns == ("id", "birthdate")
    assert rows.rows == [[1, "2000-01-02"], [2, None]]
    assert with_ids(rows, [10, 11]).column("id") == [10, 11]


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ({"Status": "ready", "MigrationType": "full-load-and-cdc"}, "start-replication"),
        ({"Status": "running", "MigrationType": "full-load-and-cdc"}, None),
        (
            {"Status": "stopped", "MigrationType": "full-load-and-cdc", "ReplicationTaskStartDate": "x"},
            "resume-processing",
        ),
        (
            {"Status": "stopped", "MigrationType": "full-load", "ReplicationTaskStartDate": "x"},
            "reload-target",
        ),
        ({"Status": "failed", "MigrationType": "full-load-and-cdc"}, "reload-target"),
    ],
)
def test_dms_start_type_follows_the_task_state(task: dict, expected: str | None) -> None:
    assert start_type(task) == expected


def test_full_load_is_done_when_every_configured_table_completed() -> None:
    task = {"Status": "running", "ReplicationTaskStats": {"FullLoadProgressPercent": 100}}
    stats = [{"TableName": "customer", "TableState": "Table completed"}]
    assert not full_load_done(task, stats, ["customer", "card"])
    stats.append({"TableName": "card", "TableState": "Table completed"})
    assert full_load_done(task, stats, ["customer", "card"])

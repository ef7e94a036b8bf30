"""`dcp seed`'s driver against the real seed Lambda code, served by the in-process sandbox over SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcp.aws.session import AwsContext
from dcp.pipeline.seed import (
    SeedClient,
    SeedCounts,
    generate,
    plan_changes,
    seed_tables,
    stage_changes,
    stage_seed,
)

pytestmark = pytest.mark.slow

FUNCTION = "t-seed"


@pytest.fixture
def seed_client(tmp_path: Path) -> Iterator[tuple[SeedClient, Path]]:
    from dcp.lambdas.package import seed_zip
    from dcp.sandbox.inprocess import sandbox_in_process

    database = tmp_path / "source.sqlite"
    with sandbox_in_process(tmp_path / "state"):
        aws = AwsContext.create(region="us-east-1")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = aws.client("iam").create_role(RoleName="t-seed", AssumeRolePolicyDocument=json.dumps(trust))
        secret = aws.client("secretsmanager").create_secret(
            Name="t/source-db", SecretString=json.dumps({"engine": "sqlite", "host": str(database)})
        )
        # The handler runs as its execution role, which the sandbox's gates hold to its policy.
        aws.client("iam").put_role_policy(
            RoleName="t-seed",
            PolicyName="read-source-secret",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret["ARN"]}
                    ],
                }
            ),
        )
        aws.client("lambda").create_function(
            FunctionName=FUNCTION,
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler="seed.handler",
            Code={"ZipFile": seed_zip()},
            Environment={"Variables": {"DB_SECRET_ARN": secret["ARN"]}},
            Timeout=60,
        )
        yield SeedClient(aws, FUNCTION), database


def seed_table(client: SeedClient, table: str, rows: int, seed: int, advance: Any = None) -> SeedCounts:
    return seed_tables(client, [table], lambda t: stage_seed(client, t, rows, seed, advance), replace=True)[0]


def change_table(client: SeedClient, table: str, fraction: float, seed: int) -> SeedCounts:
    return seed_tables(client, [table], lambda t: stage_changes(client, t, fraction, seed), replace=False)[0]


def _rows(database: Path, table: str) -> dict[int, tuple[str, ...]]:
    import sqlite3

    with sqlite3.connect(database) as conn:
        return {int(r[0]): tuple(r[1:]) for r in conn.execute(f"SELECT * FROM {table}")}


def test_seeding_writes_exactly_the_generated_rows_and_reseeding_replaces_them(
    seed_client: tuple[SeedClient, Path],
) -> None:
    client, database = seed_client
    progress: list[int] = []
    counts = seed_table(client, "card", 6000, 5, progress.append)
    assert (counts.inserted, counts.total) == (6000, 6000)
    assert progress == [5000, 1000]
    expected = generate("card", 6000, 5)
    stored = _rows(database, "card")
    assert stored == {row[0]: tuple(row[1:]) for row in expected.rows}
    again = seed_table(client, "card", 40, 5)
    assert (again.deleted, again.inserted, again.total) == (6000, 40, 40)
    assert sorted(_rows(database, "card")) == list(range(1, 41))


def test_a_change_round_updates_deletes_and_inserts_reproducibly(
    seed_client: tuple[SeedClient, Path],
) -> None:
    client, database = seed_client
    seed_table(client, "customer", 100, 9)
    before = _rows(database, "customer")
    plan = plan_changes(list(before), 0.2, 9, "customer")
    counts = change_table(client, "customer", 0.2, 9)
    after = _rows(database, "customer")
    assert (counts.updated, counts.deleted, counts.inserted) == (20, 10, 5)
    assert counts.total == len(after) == 95
    assert set(after) == (set(before) - set(plan.delete_ids)) | set(plan.insert_ids)
    changed = [i for i in plan.update_ids if after[i] != before[i]]
    assert len(changed) >= 18  # new Faker values (a pooled value may repeat by chance)
    untouched = set(before) - set(plan.update_ids) - set(plan.delete_ids)
    assert all(after[i] == before[i] for i in untouched)


def _tables(database: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(database) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _generated_values(*tables: tuple[str, int, int]) -> set[str]:
    return {str(v) for t, n, s in tables for row in generate(t, n, s).rows for v in row[1:] if v and len(str(v)) > 3}


def test_a_failed_run_leaves_every_source_table_as_it_was(seed_client: tuple[SeedClient, Path]) -> None:
    """customer is staged and its commit deletes its old rows, then card's insert breaks a constraint:
    the one transaction rolls back, so customer keeps its 5 rows and card its 2."""
    import sqlite3

    from dcp.pipeline.errors import PipelineError

    client, database = seed_client
    seed_table(client, "customer", 5, 1)
    before = _rows(database, "customer")
    card_columns = generate("card", 1, 1).columns
    with sqlite3.connect(database) as conn:  # an existing card table that rejects the new rows
        columns = ", ".join(f"{c} TEXT" for c in card_columns[1:])
        conn.execute(f"CREATE TABLE card (id INTEGER PRIMARY KEY, {columns}, CHECK (length(card_number) < 3))")
        conn.execute("INSERT INTO card (id, card_number) VALUES (1, '12'), (2, '34')")
    with pytest.raises(PipelineError) as failed:
        seed_tables(client, ["customer", "card"], lambda t: stage_seed(client, t, 50, 2), replace=True)
    assert _rows(database, "customer") == before
    assert sorted(_rows(database, "card")) == [1, 2]
    assert not [t for t in _tables(database) if t.endswith("__dcp_stage")]
    message = str(failed.value)
    assert "card" in message and "unchanged" in message
    assert not [v for v in _generated_values(("customer", 50, 2), ("card", 50, 2)) if v in message]


def test_a_rejected_batch_never_echoes_its_sql_parameters(seed_client: tuple[SeedClient, Path]) -> None:
    from dcp.pipeline.errors import PipelineError

    client, _ = seed_client
    data = generate("customer", 3, 4)
    client.stage("customer", data.columns)
    duplicated = [data.rows[0], data.rows[1], data.rows[0]]
    with pytest.raises(PipelineError) as failed:
        client.write("customer", data.columns, duplicated, "insert", staged=True)
    message = str(failed.value)
    assert "customer" in message and "\n" not in message
    assert not [v for v in _generated_values(("customer", 3, 4)) if v in message], message


@pytest.mark.parametrize("tables", ["customer,customer", "", " , ", "customer,,card", "customer,nope"])
def test_duplicate_empty_or_unknown_table_lists_are_usage_errors(tmp_path: Path, tables: str) -> None:
    from click.testing import CliRunner

    from dcp.cli import cli

    config = tmp_path / "config.yaml"
    config.write_text("endpoint: aws\nproject:\n  prefix: seedtest\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "seed", "--tables", tables])
    assert result.exit_code == 2, result.output
    assert "--tables" in result.output or "unknown table" in result.output

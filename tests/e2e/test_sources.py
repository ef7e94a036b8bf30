"""Seeding through the in-VPC Lambda works against SQLite, MariaDB and PostgreSQL sources."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import ids_everywhere, require_server

pytestmark = pytest.mark.slow

# engine: what config's source.engine says (RDS engine, and the driver the seed Lambda picks)
SOURCES = {
    "postgres": ("127.0.0.1", 5432, "postgresql+psycopg://postgres@127.0.0.1:5432/test", "PostgreSQL"),
    "mysql": ("127.0.0.1", 3306, "mysql+pymysql://root@127.0.0.1:3306/test", "MariaDB"),
}


@pytest.mark.db
@pytest.mark.parametrize("engine", sorted(SOURCES))
def test_seed_and_replicate_a_real_database(sandbox_factory: Any, engine: str) -> None:
    host, port, url, what = SOURCES[engine]
    require_server(host, port, what)
    dcp = sandbox_factory(f"src{engine[:2]}", source_url=url, engine=engine)
    # A database and login of this run's own on the shared server: another stack (or an earlier
    # run) holding `dataset`/`dcpadmin` there must not reset the password this stack's secret holds.
    own = uuid.uuid4().hex[:8]
    dcp.config.write_text(
        f"project: {{prefix: src{engine[:2]}}}\n"
        f"source: {{engine: {engine}, db_name: dataset_{own}, username: dcp_{own}}}\n"
    )
    dcp("up")
    first = dcp("--output", "json", "seed", "--rows", "120", "--seed", "3").json()["tables"]
    assert {r["table"]: r["rows"] for r in first} == {"customer": 120, "bank": 120, "card": 120}
    again = dcp("--output", "json", "seed", "--rows", "80", "--seed", "3").json()["tables"]
    assert {r["table"]: r["rows"] for r in again} == {"customer": 80, "bank": 80, "card": 80}
    changed = dcp("--output", "json", "seed", "--update-fraction", "0.25").json()["tables"]
    for row in changed:
        assert row["rows"] == 80 - row["deleted"] + row["inserted"]
        assert row["updated"] == 20
    from dcp.pipeline.seed import SeedClient

    aws, names = dcp.aws(), dcp.names()
    client = SeedClient(aws, names.seed_lambda)
    for row in changed:
        assert len(client.ids(row["table"])) == row["rows"]
    # DMS reads the real server; raw, masked and encrypted end with exactly the source's rows
    dcp("scan", "--wait")
    for row in changed:
        current = {str(i) for i in client.ids(row["table"])}
        for zone, ids in ids_everywhere(dcp, row["table"]).items():
            assert ids == current, f"{engine} {row['table']} {zone}: {len(ids)} ids, source {len(current)}"


def test_seed_default_sqlite_is_reproducible(sandbox_factory: Any) -> None:
    dcp = sandbox_factory("srcsq")
    dcp("up")
    dcp("seed", "--rows", "30", "--seed", "11", "--tables", "card")
    from dcp.pipeline.seed import SeedClient

    aws, names = dcp.aws(), dcp.names()
    assert SeedClient(aws, names.seed_lambda).ids("card") == list(range(1, 31))
    bad = dcp("seed", "--tables", "orders", ok=False)
    assert bad.code == 2 and "customer, bank, card" in bad.stderr

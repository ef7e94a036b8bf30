"""The pipeline end to end on a sandbox: one up + seed + scan, then what users rely on.

Persona matrix, no loss (by primary key, raw = masked = encrypted = source, also after a CDC
round), no plaintext of a flagged column in the curated or Athena-results buckets, idempotent
grants, one-line refusals.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import Dcp, ids_everywhere

pytestmark = pytest.mark.slow

ROWS, SEED = 200, 7
TABLES = ("customer", "bank", "card")


@pytest.fixture(scope="module")
def lake(sandbox_factory: Any) -> Dcp:
    dcp = sandbox_factory("e2e")
    dcp("up")
    dcp("seed", "--rows", str(ROWS), "--seed", str(SEED))
    dcp("scan", "--wait")
    dcp("grant", "--all")
    return dcp


def _source(table: str) -> Any:
    from dcp.pipeline.seed import generate

    return generate(table, ROWS, SEED)


def _flagged(dcp: Dcp) -> dict[str, set[str]]:
    from dcp.pipeline.grant import load_findings, pii_columns

    return pii_columns(load_findings(dcp.aws(), dcp.names()))


def _query(dcp: Dcp, persona: str, sql: str, ok: bool = True) -> Any:
    return dcp("--output", "json", "query", "--persona", persona, sql, ok=ok)


def test_findings_flag_the_sample_pii_columns(lake: Dcp) -> None:
    flagged = _flagged(lake)
    assert {"name", "mail", "birthdate"} <= flagged["customer"]
    assert {"card_number"} <= flagged["card"]
    assert {"account_number", "iban"} <= flagged["bank"]
    assert "id" not in flagged["customer"]


def test_lf_admin_reads_the_raw_zone(lake: Dcp) -> None:
    rows = _query(lake, "lf-admin", 'SELECT count(*) AS n FROM "dataset"."customer"').json()["rows"]
    assert int(rows[0]["n"]) == ROWS


def test_analyst_reads_masked_tables_with_pii_masked(lake: Dcp) -> None:
    source = _source("customer")
    rows = _query(lake, "analyst", 'SELECT * FROM "dataset_masked"."customer"').json()["rows"]
    assert len(rows) == ROWS
    for column in ("name", "mail", "birthdate"):
        seeded = set(source.column(column))
        assert not seeded & {r[column] for r in rows}, f"{column} is not masked"
    # unflagged columns pass through
    assert {str(r["id"]) for r in rows} == {str(i) for i in source.column("id")}


def test_each_flagged_type_gets_its_configured_action(lake: Dcp) -> None:
    """config.yaml: cards partial (last 4 kept), emails and account numbers tokens, names redacted."""
    import re

    card = _source("card")
    rows = _query(lake, "analyst", 'SELECT id, card_number FROM "dataset_masked"."card"').json()["rows"]
    numbers = {str(i): str(n) for i, n in zip(card.column("id"), card.column("card_number"), strict=True)}
    for row in rows:
        seeded = numbers[str(row["id"])]
        assert row["card_number"] != seeded
        assert len(row["card_number"]) == len(seeded) and row["card_number"].endswith(seeded[-4:])
    bank = _query(lake, "analyst", 'SELECT account_number FROM "dataset_masked"."bank"').json()["rows"]
    customer = _query(lake, "analyst", 'SELECT name, mail FROM "dataset_masked"."customer"').json()["rows"]
    # the custom identifier (Macie name <prefix>-account_number) is tokenised as config says for account_number
    token = re.compile(r"^[0-9a-f]{16,64}$")
    assert all(token.match(r["account_number"]) for r in bank), bank[:2]
    assert all(token.match(r["mail"]) for r in customer)
    assert {r["name"] for r in customer} == {"****"}


def test_analyst_cannot_read_the_encrypted_database(lake: Dcp) -> None:
    run = _query(lake, "analyst", 'SELECT * FROM "dataset_encrypted"."card"', ok=False)
    assert run.code == 1
    assert run.stdout.strip() == ""
    assert len(run.stderr.strip().splitlines()) == 1


def test_data_scientist_sees_ciphertext_but_cannot_decrypt(lake: Dcp) -> None:
    rows = _query(lake, "data-scientist", 'SELECT * FROM "dataset_encrypted"."card"').json()["rows"]
    assert len(rows) == ROWS
    assert all(r["card_number"].startswith("v1:") for r in rows)
    run = lake("reveal", "--persona", "data-scientist", "card", ok=False)
    assert run.code == 1
    assert "KMS" in run.stderr and "AccessDeniedException" in run.stderr
    assert run.stdout.strip() == ""
    assert len(run.stderr.strip().splitlines()) == 1


def test_ml_training_decrypts_the_seeded_values_exactly(lake: Dcp) -> None:
    for table in TABLES:
        source = _source(table)
        rows = lake("--output", "json", "reveal", "--persona", "ml-training", table, "--limit", "100000").json()
        rows = rows["rows"]
        assert len(rows) == ROWS
        by_id = {int(r["id"]): r for r in rows}
        for column in source.columns:
            seeded = dict(zip(source.column("id"), source.column(column), strict=True))
            assert all(str(by_id[i][column]) == str(v) for i, v in seeded.items()), f"{table}.{column}"


def test_unknown_persona_is_a_usage_error_listing_the_valid_ones(lake: Dcp) -> None:
    run = lake("query", "--persona", "intern", "SELECT 1", ok=False)
    assert run.code == 2
    assert "analyst" in run.stderr and "ml-training" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_grants_are_idempotent(lake: Dcp) -> None:
    rows = lake("--output", "json", "grant", "--all").json()["grants"]
    assert rows and all(r["change"] == "in place" for r in rows)


def _source_ids(dcp: Dcp, table: str) -> set[str]:
    from dcp.pipeline.seed import SeedClient

    return {str(i) for i in SeedClient(dcp.aws(), dcp.names().seed_lambda).ids(table)}


def test_no_row_is_lost_between_source_raw_masked_and_encrypted(lake: Dcp) -> None:
    for table in TABLES:
        seeded = {str(i) for i in _source(table).column("id")}
        assert _source_ids(lake, table) == seeded
        for zone, ids in ids_everywhere(lake, table).items():
            assert ids == seeded, f"{table} {zone}: {len(ids)} ids, {len(seeded)} seeded"


def _plaintexts(dcp: Dcp) -> set[bytes]:
    """Seeded values of flagged columns, long enough not to occur by chance."""
    out: set[bytes] = set()
    for table, columns in _flagged(dcp).items():
        source = _source(table)
        for column in columns:
            if column in source.columns:
                out.update(str(v).encode() for v in source.column(column) if v is not None and len(str(v)) >= 6)
    return out


def test_no_plaintext_of_a_flagged_column_in_the_curated_or_results_buckets(lake: Dcp) -> None:
    from dcp.pipeline.lake import get_bytes, list_keys

    aws, names = lake.aws(), lake.names()
    secrets = _plaintexts(lake)
    assert len(secrets) > 100
    scanned = 0
    for bucket in (names.curated_bucket, names.athena_results_bucket):
        for obj in list_keys(aws, bucket, ""):
            data = get_bytes(aws, bucket, obj["Key"])
            scanned += 1
            leaked = [s for s in secrets if s in data]
            assert not leaked, f"s3://{bucket}/{obj['Key']} holds plaintext ({len(leaked)} values)"
    assert scanned > 0


def test_status_reports_rows_per_zone_and_grants(lake: Dcp) -> None:
    sections = {s["title"]: s["rows"] for s in lake("--output", "json", "status").json()["pipeline"]}
    rows = {r["table"]: r for r in sections["Rows per table"]}
    for table in TABLES:
        assert (rows[table]["raw"], rows[table]["masked"], rows[table]["encrypted"]) == (ROWS, ROWS, ROWS)
    assert sections["Last Macie job"][0]["findings"] >= 3
    assert sections["Last workflow run"][0]["state"] == "COMPLETED"
    grants = {r["persona"]: r["grants"] for r in sections["Personas and grants"]}
    assert "zone=masked" in grants["analyst"] and "encrypted" not in grants["analyst"]


def _manifests(lake: Dcp) -> dict[str, Any]:
    """Each table's manifest of applied raw files, parts and wrapped key (dcp.gluejob.incremental)."""
    s3 = lake.aws().client("s3")
    bucket = lake.names().curated_bucket
    return {
        table: json.loads(s3.get_object(Bucket=bucket, Key=f"_dcp/manifests/{table}.json")["Body"].read())
        for table in TABLES
    }


def _last_crawls(lake: Dcp) -> dict[str, Any]:
    """When each zone's crawler last started a crawl."""
    glue, names = lake.aws().client("glue"), lake.names()
    return {
        zone: (glue.get_crawler(Name=names.crawler(zone))["Crawler"].get("LastCrawl") or {}).get("StartTime")
        for zone in ("raw", "findings", "masked", "encrypted")
    }


def test_a_cdc_round_reaches_every_zone(lake: Dcp) -> None:
    before = ids_everywhere(lake, "customer")["masked"]
    manifests = _manifests(lake)
    changed = lake("--output", "json", "seed", "--update-fraction", "0.2", "--seed", str(SEED)).json()
    counts = {r["table"]: r for r in changed["tables"]}
    assert counts["customer"]["updated"] > 0 and counts["customer"]["deleted"] > 0
    crawls_before = _last_crawls(lake)
    lake("scan", "--wait")
    # Applied in place, the round changed no output schema: the job did not crawl the output
    # zones (the catalog below still serves every id); the raw and findings zones were crawled.
    crawls_after = _last_crawls(lake)
    assert {z: crawls_after[z] == crawls_before[z] for z in crawls_after} == {
        "raw": False,
        "findings": False,
        "masked": True,
        "encrypted": True,
    }
    for table in TABLES:
        current = _source_ids(lake, table)
        assert len(current) == ROWS - counts[table]["deleted"] + counts[table]["inserted"]
        for zone, ids in ids_everywhere(lake, table).items():
            assert ids == current, f"after CDC, {table} {zone}: {len(ids)} ids, source {len(current)}"
    assert ids_everywhere(lake, "customer")["masked"] != before
    # The round was applied in place: only its change files read, the table's data key kept (the
    # Glue role may unwrap it), every earlier file still counted as applied.
    after = _manifests(lake)
    for table in TABLES:
        applied_before = [tuple(a) for a in manifests[table]["applied"]]
        applied_after = [tuple(a) for a in after[table]["applied"]]
        assert applied_after[: len(applied_before)] == applied_before, table
        assert len(applied_after) > len(applied_before), table
        assert after[table]["key_metadata"] == manifests[table]["key_metadata"], table


def _audit(dcp: Dcp, ok: bool = True) -> Any:
    return dcp("--output", "json", "audit", ok=ok)


def test_audit_shows_the_intended_matrix_with_every_gate_on(lake: Dcp) -> None:
    run = _audit(lake, ok=False)
    assert run.code == 0, run.json()["differences"]
    rows = run.json()["rows"]
    by = {(r["persona"], r["check"]): r for r in rows}
    # The intended matrix, from config.yaml's personas.
    assert by[("lf-admin", "query-raw")]["expected"] == "allowed"
    assert by[("analyst", "query-raw")]["expected"] == "denied"
    assert by[("analyst", "query-encrypted")]["expected"] == "denied"
    assert by[("data-scientist", "query-encrypted")]["expected"] == "allowed"
    assert by[("ml-training", "decrypt-data-key")]["expected"] == "allowed"
    assert by[("data-scientist", "decrypt-data-key")]["expected"] == "denied"
    assert all(by[(p, "read-raw-object")]["expected"] == "denied" for p in ("lf-admin", "analyst"))
    assert all(by[(p, "change-key-policy")]["expected"] == "denied" for p in ("analyst", "data-scientist"))
    assert all(r["ok"] and r["actual"] == r["expected"] for r in rows), [r for r in rows if not r["ok"]]


def test_audit_reports_a_persona_given_too_much_and_exits_1(lake: Dcp) -> None:
    names = lake.names()
    lf = lake.aws().client("lakeformation")
    grant = {
        "Principal": {"DataLakePrincipalIdentifier": names.persona_role_arn("analyst")},
        "Resource": {"Table": {"DatabaseName": names.raw_database, "Name": "customer"}},
        "Permissions": ["SELECT"],
    }
    lf.grant_permissions(**grant)
    try:
        run = _audit(lake, ok=False)
    finally:
        lf.revoke_permissions(**grant)
    assert run.code == 1
    assert "analyst: query-raw: expected denied, actual allowed" in run.json()["differences"]
    assert "analyst: query-raw: expected denied, actual allowed" in run.stderr


def test_full_load_and_cdc_files_share_the_op_column(lake: Dcp) -> None:
    """IncludeOpForFullLoad: the LOAD file starts with Op like the CDC files, and the raw table too."""
    names = lake.names()
    aws = lake.aws()
    s3 = aws.client("s3")
    keys = [
        o["Key"] for o in s3.list_objects_v2(Bucket=names.raw_bucket, Prefix=names.raw_prefix("customer"))["Contents"]
    ]
    load = next(k for k in keys if k.rsplit("/", 1)[-1].startswith("LOAD"))
    assert load.endswith(".parquet")  # the stack's DMS target writes typed Parquet
    import io

    import pyarrow.parquet as pq

    body = s3.get_object(Bucket=names.raw_bucket, Key=load)["Body"].read()
    assert pq.read_schema(io.BytesIO(body)).names[0] == "Op"
    columns = aws.client("glue").get_table(DatabaseName=names.raw_database, Name="customer")["Table"][
        "StorageDescriptor"
    ]["Columns"]
    assert columns[0]["Name"].lower() == "op"

"""A data lake on moto's server for the mask-PII job tests: buckets, a KMS key, findings, output.

The server runs in a thread on a free loopback port; clients here and the job's own clients
(driver, subprocesses, Spark's Python workers) reach it through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from moto.server import ThreadedMotoServer

from dcp.gluejob.args import JobArgs
from dcp.gluejob.incremental import MANIFEST_PREFIX
from dcp.gluejob.job import JobClients
from dcp.masking.crypto import TableCrypto
from dcp.masking.findings import Cell, Detection, Finding
from dcp.masking.policy import Action, MaskingPolicy

REGION = "us-east-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
TOKEN_KEY = bytes(range(32))
POLICY = MaskingPolicy(
    actions={
        "CREDIT_CARD_NUMBER": Action.PARTIAL,
        "EMAIL_ADDRESS": Action.TOKEN,
        "NAME": Action.REDACT,
        "PHONE_NUMBER": Action.ENCRYPT,
        "ADDRESS": Action.DROP,
    },
    default_action=Action.REDACT,
    partial_keep=4,
    joinable_types=frozenset({"EMAIL_ADDRESS"}),
)


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a free loopback port; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def csv_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


def finding_for(bucket: str, key: str, columns: Mapping[str, str]) -> Finding:
    """A Macie finding for ``key`` flagging each column with its type (a cell occurrence each).

    Lower-case types are custom data identifiers, as in the config (``account_number``).
    """
    detections = tuple(
        Detection(
            type=data_type,
            count=1,
            columns=(column,),
            custom=data_type.islower(),
            cells=(Cell(row=2, column=position + 1, column_name=column),),
        )
        for position, (column, data_type) in enumerate(columns.items())
    )
    return Finding(bucket=bucket, key=key, detections=detections)


@dataclass
class Lake:
    """Three buckets and a KMS key on the moto server, named uniquely per test."""

    endpoint: str
    raw_bucket: str
    findings_bucket: str
    curated_bucket: str
    key_id: str
    raw_prefix: str = "dataset/"

    @classmethod
    def create(cls, endpoint: str) -> Lake:
        suffix = uuid.uuid4().hex[:10]
        lake = cls(endpoint, f"raw-{suffix}", f"findings-{suffix}", f"curated-{suffix}", "")
        for bucket in (lake.raw_bucket, lake.findings_bucket, lake.curated_bucket):
            lake.client("s3").create_bucket(Bucket=bucket)
        lake.key_id = lake.client("kms").create_key(Description="dcp test data key")["KeyMetadata"]["KeyId"]
        return lake

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def clients(self) -> JobClients:
        return JobClients(self.client("s3"), self.client("kms"), self.client("secretsmanager"), self.client("glue"))

    @property
    def s3(self) -> Any:
        return self.client("s3")

    # ---- input
    def raw_key(self, table: str, name: str, prefix: str | None = None) -> str:
        return f"{self.raw_prefix if prefix is None else prefix}{table}/{name}"

    def put_raw(self, table: str, name: str, data: pa.Table | bytes, prefix: str | None = None) -> str:
        key = self.raw_key(table, name, prefix)
        body = data if isinstance(data, bytes) else csv_bytes(data)
        self.s3.put_object(Bucket=self.raw_bucket, Key=key, Body=body)
        return key

    def put_findings(self, findings: Sequence[Finding], name: str = "findings/2024/01/01/delivery-1") -> None:
        """One Firehose object: the findings' JSON concatenated without separators."""
        import json

        body = "".join(json.dumps(f.to_json()) for f in findings).encode()
        self.s3.put_object(Bucket=self.findings_bucket, Key=name, Body=body)

    def args(self, **overrides: Any) -> JobArgs:
        values: dict[str, Any] = {
            "job_name": "test-mask-pii",
            "raw_bucket": self.raw_bucket,
            "findings_bucket": self.findings_bucket,
            "curated_bucket": self.curated_bucket,
            "data_key_id": self.key_id,
            "raw_prefix": self.raw_prefix,
            "token_key": TOKEN_KEY,
            "policy": POLICY,
            "batch_size": 1000,
        }
        values.update(overrides)
        return JobArgs(**values)

    def cli_args(self, **overrides: str) -> list[str]:
        """The job's command line, as the sandbox's Glue emulator passes it."""
        from dcp.gluejob.args import policy_to_json

        values = {
            "JOB_NAME": "test-mask-pii",
            "raw_bucket": self.raw_bucket,
            "raw_prefix": self.raw_prefix,
            "findings_bucket": self.findings_bucket,
            "findings_prefix": "findings/",
            "curated_bucket": self.curated_bucket,
            "data_key_id": self.key_id,
            "token_key": TOKEN_KEY.hex(),
            "policy": policy_to_json(POLICY),
        }
        values.update(overrides)
        return [item for name, value in values.items() for item in (f"--{name}", value)]

    # ---- output
    def object_keys(self, prefix: str = "", *, state: bool = False) -> list[str]:
        """The output objects under ``prefix``; the job's manifests (``_dcp/``) only if ``state``."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.curated_bucket, Prefix=prefix)
        keys = sorted(item["Key"] for page in pages for item in page.get("Contents") or [])
        return [key for key in keys if state or prefix or not key.startswith(MANIFEST_PREFIX)]

    def objects(self, prefix: str = "", *, state: bool = False) -> dict[str, bytes]:
        return {
            key: self.s3.get_object(Bucket=self.curated_bucket, Key=key)["Body"].read()
            for key in self.object_keys(prefix, state=state)
        }

    def parts(self, kind: str, table: str, run_id: str = "") -> list[bytes]:
        """The part files of ``kind/table/`` (of one run, when given)."""
        objects = self.objects(f"{kind}/{table}/")
        return [body for key, body in objects.items() if key.endswith(f"-{run_id}.parquet") or not run_id]

    def read(self, kind: str, table: str, run_id: str = "") -> pa.Table:
        """Every part of ``kind/table/`` concatenated (schema metadata of the first part kept), in
        key order (the first column, numerically when it holds numbers): the order the sample
        tables are generated in, whatever key-hash bucket each row was written to."""
        parts = [pq.read_table(pa.BufferReader(body)) for body in self.parts(kind, table, run_id)]
        assert parts, f"no output under {kind}/{table}/"
        return in_key_order(pa.concat_tables(parts))

    def metadata(self, kind: str, table: str, run_id: str = "") -> dict[bytes, bytes]:
        bodies = self.parts(kind, table, run_id)
        return dict(pq.read_schema(pa.BufferReader(bodies[0])).metadata or {})

    def crypto(self, kind: str, table: str, run_id: str = "") -> TableCrypto:
        return TableCrypto.from_metadata(self.client("kms"), self.metadata(kind, table, run_id))


def in_key_order(table: pa.Table) -> pa.Table:
    """``table``'s rows ordered by its first column, as numbers when every value is one."""
    if not table.num_rows:
        return table
    key = table.column(0)
    try:
        order = pc.sort_indices(pc.cast(key, pa.int64()) if pa.types.is_string(key.type) else key)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        order = pc.sort_indices(key)
    return table.take(order)


def sort_by(table: pa.Table, column: str) -> pa.Table:
    return table.sort_by(column).replace_schema_metadata(None)


def decrypt_columns(table: pa.Table, crypto: TableCrypto, columns: Sequence[str]) -> pa.Table:
    for column in columns:
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, crypto.decrypt_array(table.column(column), column))
    return table


# ---- the sample tables ------------------------------------------------------------------------

#: the flagged columns of the sample tables and the type a finding reports for each
SAMPLE_COLUMNS: dict[str, dict[str, str]] = {
    "customer": {"name": "NAME", "mail": "EMAIL_ADDRESS", "birthdate": "DATE_OF_BIRTH"},
    "bank": {"account_number": "account_number", "iban": "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "bban": "BBAN"},
    "card": {
        "card_number": "CREDIT_CARD_NUMBER",
        "expiration": "CREDIT_CARD_EXPIRATION",
        "security_code": "CREDIT_CARD_SECURITY_CODE",
    },
}
#: every action once: keep (birthdate), drop (security code), encrypt+joinable (account number)
SAMPLE_POLICY = MaskingPolicy(
    actions={
        "NAME": Action.REDACT,
        "EMAIL_ADDRESS": Action.TOKEN,
        "DATE_OF_BIRTH": Action.KEEP,
        "account_number": Action.ENCRYPT,
        "INTERNATIONAL_BANK_ACCOUNT_NUMBER": Action.PARTIAL,
        "CREDIT_CARD_NUMBER": Action.PARTIAL,
        "CREDIT_CARD_EXPIRATION": Action.REDACT,
        "CREDIT_CARD_SECURITY_CODE": Action.DROP,
    },
    default_action=Action.REDACT,
    joinable_types=frozenset({"EMAIL_ADDRESS", "account_number"}),
)


def as_read_by_the_job(table: pa.Table) -> pa.Table:
    """``table`` after a CSV round trip: what the job and the local runner see (all text)."""
    from dcp.masking.readers import open_batches

    return open_batches(csv_bytes(table), fmt="csv").read_all()


def put_sample_tables(
    lake: Lake, rows: int, *, files: int = 1, decoys: Sequence[str] = ("orders",)
) -> dict[str, pa.Table]:
    """The Faker sample tables (and unflagged decoys) as DMS full loads, with their findings.

    Returns each table as the job reads it. ``files`` splits every full load into that many
    LOAD files.
    """
    from dcp.masking.sample_data import generate_table

    findings = []
    raw = {}
    for seed, name in enumerate((*SAMPLE_COLUMNS, *decoys)):
        table = generate_table(name, rows, seed=seed)
        step = -(-rows // files)
        keys = [
            lake.put_raw(name, f"LOAD{index + 1:08d}.csv", table.slice(start, step))
            for index, start in enumerate(range(0, rows, step))
        ]
        if name in SAMPLE_COLUMNS:
            findings.append(finding_for(lake.raw_bucket, keys[0], SAMPLE_COLUMNS[name]))
        raw[name] = as_read_by_the_job(table)
    lake.put_findings(findings)
    return raw


def assert_no_plaintext(lake: Lake, raw: Mapping[str, pa.Table], policy: MaskingPolicy = SAMPLE_POLICY) -> int:
    """No plaintext value of a masked column in any output cell, Parquet statistic or object byte.

    Cells and statistics are checked for every value; raw bytes (compressed pages, footers,
    metadata) for values of six characters or more, which cannot occur by chance. Returns how
    many values were looked for.
    """
    objects = lake.objects(state=True)  # the manifests too: their bytes are checked below
    assert objects, "the job wrote nothing"
    looked_for = 0
    windows = {key: {body[i : i + 6] for i in range(len(body) - 5)} for key, body in objects.items()}
    for table, columns in SAMPLE_COLUMNS.items():
        if table not in raw:
            continue
        for column, data_type in columns.items():
            if policy.action_for(data_type) is Action.KEEP:
                continue
            values = {v for v in raw[table].column(column).to_pylist() if v}
            looked_for += len(values)
            for key, body in objects.items():
                if key.split("/")[1] != table:
                    continue
                parquet = pq.ParquetFile(pa.BufferReader(body))
                if column in parquet.schema_arrow.names:
                    cells = set(parquet.read(columns=[column]).column(column).to_pylist())
                    assert not cells & values, f"plaintext {table}.{column} cells in {key}"
                    _assert_statistics_clean(parquet, column, values, key)
            for key, body in objects.items():
                for value in values:
                    encoded = value.encode()
                    if len(encoded) >= 6 and encoded[:6] in windows[key]:
                        assert encoded not in body, f"plaintext of {table}.{column} in the bytes of {key}"
    return looked_for


def _assert_statistics_clean(parquet: pq.ParquetFile, column: str, values: set[str], key: str) -> None:
    index = parquet.schema_arrow.names.index(column)
    for group in range(parquet.metadata.num_row_groups):
        statistics = parquet.metadata.row_group(group).column(index).statistics
        if statistics is not None and statistics.has_min_max:
            assert statistics.min not in values and statistics.max not in values, (
                f"plaintext of {column} in the min/max statistics of {key}"
            )

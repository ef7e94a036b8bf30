"""`dcp mask`: apply the configured masking plan to local files; write masked and encrypted Parquet."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import click

from dcp.aws.errors import error_code
from dcp.cli import App, RuntimeFailure, UsageFailure, pass_app
from dcp.commands.classify import Input, classify_inputs, expand_inputs
from dcp.errors import about
from dcp.masking.apply import mask_table
from dcp.masking.crypto import KmsAccessDenied
from dcp.masking.findings import Finding, UnreadableFindings, read_findings, table_from_key
from dcp.masking.plan import MaskingPlan
from dcp.masking.policy import Action
from dcp.masking.readers import format_of, open_batches


def _token_key(app: App) -> bytes:
    """The `token` action's key: DCP_TOKEN_KEY (hex), else the stack's Secrets Manager secret."""
    from_env = os.environ.get("DCP_TOKEN_KEY")
    if from_env:
        try:
            return bytes.fromhex(from_env)
        except ValueError:
            raise UsageFailure("DCP_TOKEN_KEY must be hex (e.g. `openssl rand -hex 32`)") from None
    from dcp.names import StackNames

    names = StackNames.of(app.settings, app.aws.account_id, app.aws.region)
    try:
        secret = app.aws.client("secretsmanager").get_secret_value(SecretId=names.token_secret)
    except Exception as exc:
        raise RuntimeFailure(
            f"no token key: set DCP_TOKEN_KEY (hex) or run `dcp up` to create {names.token_secret} "
            f"({type(exc).__name__})"
        ) from None
    return bytes.fromhex(secret["SecretString"])


def _merged(first: Finding | None, second: Finding | None) -> Finding | None:
    """One finding for a table of several files (the detections of both)."""
    if first is None or second is None:
        return first or second
    return replace(first, detections=first.detections + second.detections)


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Folder for <table>.masked.parquet and <table>.encrypted.parquet.",
)
@click.option(
    "--findings",
    "findings_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Macie findings (JSON, JSON Lines, EventBridge events or Firehose output); default: classify the files first.",
)
@click.option("--key-id", help="KMS key for the data keys (default: kms.data_key_alias from config).")
@click.option("--batch-size", type=click.IntRange(min=1), default=65536, show_default=True)
@pass_app
def mask(
    app: App,
    paths: tuple[str, ...],
    out_dir: str,
    findings_file: str | None,
    key_id: str | None,
    batch_size: int,
) -> None:
    """Mask files by the config's masking plan (one KMS data key per table).

    Findings are matched to the input files by table: a finding's object key and a file's path
    name the same table (`dataset/customer/LOAD00000001.csv`, `exports/customer.csv` and
    `exports/customer/part-0.parquet` are all table `customer`). Fail closed: an unreadable
    findings file, or one about none of the input tables, stops with nothing written; a table no
    finding matches, or with occurrences no column is given for, is scanned by dcp's detector,
    and if that cannot locate a reported type either, nothing is written.

    \b
    dcp mask data/card.csv data/customer.csv --out masked/
    dcp mask data/ --findings findings.jsonl --out masked/
    """
    inputs = list(expand_inputs(app, paths))
    by_table: dict[str, list[Input]] = {}
    for item in inputs:
        by_table.setdefault(table_from_key(item.key), []).append(item)
    own: dict[str, Finding | None] = {}
    if findings_file:
        try:
            findings = read_findings(Path(findings_file).read_bytes(), findings_file)
        except UnreadableFindings as exc:
            raise UsageFailure(str(exc)) from None
        named = {finding.table for finding in findings}
        if not named & set(by_table):
            raise UsageFailure(
                f"{findings_file}: its findings are about table(s) {', '.join(sorted(named)) or '(none)'}, "
                f"none of the input tables {', '.join(sorted(by_table))}: nothing masked "
                "(a finding's object key names its table; see `dcp mask --help`)"
            )
    else:
        for item, finding in classify_inputs(app, iter(inputs), None):
            own[table_from_key(item.key)] = _merged(own.get(table_from_key(item.key)), finding)
        findings = [f for f in own.values() if f is not None]

    def detect(table: str) -> Finding | None:
        if table not in own:
            for _, finding in classify_inputs(app, iter(by_table[table]), None):
                own[table] = _merged(own.get(table), finding)
        return own.get(table)

    schemas = {}
    for item in inputs:
        with about(f"file {item.name}"):
            reader = open_batches(item.source, fmt=format_of(item.name), key=item.key)
        schemas[table_from_key(item.key)] = reader.schema
    plan = MaskingPlan.for_tables(findings, app.settings.masking.to_policy(), schemas, detect)
    for warning in plan.warnings:
        app.console.warn(warning)
    for table, note in plan.detected.items():
        app.console.warn(f"table {table!r}: {note}")
    if plan.blocked:
        # fail closed: nothing is written while any table's PII cannot be located
        raise RuntimeFailure("; ".join(plan.blocked.values()) + ": nothing written")
    needs_token = any(r.action is Action.TOKEN for t in plan.tables.values() for r in t.columns.values())
    token_key = _token_key(app) if needs_token else None
    kms = app.aws.client("kms") if plan.tables else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for item in inputs:
        table = table_from_key(item.key)
        table_plan = plan.tables[table]
        masked_path = out / f"{table}.masked.parquet"
        encrypted_path = out / f"{table}.encrypted.parquet"
        with about(f"file {item.name}"):
            try:
                result = mask_table(
                    item.source,
                    table_plan,
                    out_masked=masked_path,
                    out_encrypted=encrypted_path,
                    kms=kms,  # type: ignore[arg-type]
                    key_id=key_id or app.settings.kms.data_key_alias,
                    token_key=token_key,
                    batch_size=batch_size,
                    table=table,
                    fmt=format_of(item.name),
                )
            except KmsAccessDenied as exc:
                raise RuntimeFailure(str(exc)) from None
            except Exception as exc:
                code = error_code(exc)
                if code in ("NotFoundException", "InvalidKeyUsageException", "DisabledException"):
                    raise RuntimeFailure(
                        f"KMS key {key_id or app.settings.kms.data_key_alias} is not usable ({code}): "
                        "run `dcp up` to create it, or pass --key-id"
                    ) from None
                raise
        if not result.encrypted_columns:
            encrypted_path.unlink(missing_ok=True)
        rows.append(
            {
                "table": table,
                "rows": result.rows,
                "masked": ", ".join(f"{c}:{table_plan.columns[c].action.value}" for c in result.masked_columns),
                "encrypted": ", ".join(result.encrypted_columns),
                "output": str(masked_path),
            }
        )
    app.console.table("Masked", ["table", "rows", "masked", "encrypted", "output"], rows)

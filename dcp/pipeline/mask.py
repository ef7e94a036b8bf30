"""Mask local files by the config's masking plan: masked and encrypted Parquet, one KMS data key per table.

Findings are matched to the input files by table (a finding's object key and a file's path name
the same table). Fail closed: an unreadable findings file, or one about none of the input
tables, stops with nothing written; a table no finding matches, or with occurrences no column
is given for, is scanned by dcp's detector, and if that cannot locate a reported type either,
nothing is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dcp.aws.errors import error_code
from dcp.aws.session import AwsContext
from dcp.config import Settings
from dcp.errors import UsageError, about
from dcp.masking.apply import mask_table
from dcp.masking.crypto import KmsAccessDenied
from dcp.masking.findings import Finding, UnreadableFindings, read_findings, table_from_key
from dcp.masking.plan import MaskingPlan
from dcp.masking.policy import Action
from dcp.masking.readers import format_of, open_batches
from dcp.names import StackNames
from dcp.pipeline.classify import Input, classify_inputs
from dcp.pipeline.errors import PipelineError

#: KMS errors meaning the data key cannot be used as configured.
UNUSABLE_KEY = ("NotFoundException", "InvalidKeyUsageException", "DisabledException")


@dataclass(frozen=True)
class MaskOptions:
    out_dir: Path
    findings_file: str | None = None
    key_id: str | None = None
    batch_size: int = 65536


def token_key(settings: Settings, aws: AwsContext) -> bytes:
    """The `token` action's key: DCP_TOKEN_KEY (hex), else the stack's Secrets Manager secret."""
    from_env = os.environ.get("DCP_TOKEN_KEY")
    if from_env:
        try:
            return bytes.fromhex(from_env)
        except ValueError:
            raise UsageError("DCP_TOKEN_KEY must be hex (e.g. `openssl rand -hex 32`)") from None
    names = StackNames.of(settings, aws.account_id, aws.region)
    try:
        secret = aws.client("secretsmanager").get_secret_value(SecretId=names.token_secret)
    except Exception as exc:
        raise PipelineError(
            f"no token key: set DCP_TOKEN_KEY (hex) or run `dcp up` to create {names.token_secret} "
            f"({type(exc).__name__})"
        ) from None
    return bytes.fromhex(secret["SecretString"])


def _merged(first: Finding | None, second: Finding | None) -> Finding | None:
    """One finding for a table of several files (the detections of both)."""
    if first is None or second is None:
        return first or second
    return replace(first, detections=first.detections + second.detections)


def masking_plan(settings: Settings, inputs: list[Input], findings_file: str | None) -> MaskingPlan:
    """The plan for every input table, from the findings file or dcp's detector; fails closed."""
    by_table: dict[str, list[Input]] = {}
    for item in inputs:
        by_table.setdefault(table_from_key(item.key), []).append(item)
    own: dict[str, Finding | None] = {}
    if findings_file:
        try:
            findings = read_findings(Path(findings_file).read_bytes(), findings_file)
        except UnreadableFindings as exc:
            raise UsageError(str(exc)) from None
        named = {finding.table for finding in findings}
        if not named & set(by_table):
            raise UsageError(
                f"{findings_file}: its findings are about table(s) {', '.join(sorted(named)) or '(none)'}, "
                f"none of the input tables {', '.join(sorted(by_table))}: nothing masked "
                "(a finding's object key names its table; see `dcp mask --help`)"
            )
    else:
        for item, finding in classify_inputs(settings, iter(inputs), None):
            own[table_from_key(item.key)] = _merged(own.get(table_from_key(item.key)), finding)
        findings = [f for f in own.values() if f is not None]

    def detect(table: str) -> Finding | None:
        if table not in own:
            for _, finding in classify_inputs(settings, iter(by_table[table]), None):
                own[table] = _merged(own.get(table), finding)
        return own.get(table)

    schemas = {}
    for item in inputs:
        with about(f"file {item.name}"):
            reader = open_batches(item.source, fmt=format_of(item.name), key=item.key)
        schemas[table_from_key(item.key)] = reader.schema
    return MaskingPlan.for_tables(findings, settings.masking.to_policy(), schemas, detect)


def mask_files(
    settings: Settings,
    inputs: list[Input],
    options: MaskOptions,
    aws: Callable[[], AwsContext],
    warn: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Mask every input by its table's plan; one row per file (table, rows, masked, encrypted, output)."""
    plan = masking_plan(settings, inputs, options.findings_file)
    for warning in plan.warnings:
        warn(warning)
    for table, note in plan.detected.items():
        warn(f"table {table!r}: {note}")
    if plan.blocked:
        # fail closed: nothing is written while any table's PII cannot be located
        raise PipelineError("; ".join(plan.blocked.values()) + ": nothing written")
    needs_token = any(r.action is Action.TOKEN for t in plan.tables.values() for r in t.columns.values())
    key = token_key(settings, aws()) if needs_token else None
    kms = aws().client("kms") if plan.tables else None
    key_id = options.key_id or settings.kms.data_key_alias
    options.out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for item in inputs:
        table = table_from_key(item.key)
        table_plan = plan.tables[table]
        masked_path = options.out_dir / f"{table}.masked.parquet"
        encrypted_path = options.out_dir / f"{table}.encrypted.parquet"
        with about(f"file {item.name}"):
            try:
                result = mask_table(
                    item.source,
                    table_plan,
                    out_masked=masked_path,
                    out_encrypted=encrypted_path,
                    kms=kms,  # type: ignore[arg-type]
                    key_id=key_id,
                    token_key=key,
                    batch_size=options.batch_size,
                    table=table,
                    fmt=format_of(item.name),
                )
            except KmsAccessDenied as exc:
                raise PipelineError(str(exc)) from None
            except Exception as exc:
                if error_code(exc) in UNUSABLE_KEY:
                    raise PipelineError(
                        f"KMS key {key_id} is not usable ({error_code(exc)}): "
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
    return rows

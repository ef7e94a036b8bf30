"""`dcp mask`: apply the configured masking plan to local files; write masked and encrypted Parquet."""

from __future__ import annotations

import os
from pathlib import Path

import click

from dcp.cli import App, RuntimeFailure, UsageFailure, pass_app
from dcp.commands.classify import classify_inputs, expand_inputs
from dcp.errors import about
from dcp.masking.crypto import KmsAccessDenied
from dcp.masking.findings import Finding, table_from_key
from dcp.masking.plan import MaskingPlan, TablePlan
from dcp.masking.policy import Action
from dcp.masking.readers import format_of, open_batches
from dcp.masking.runner import mask_table


def _token_key(app: App) -> bytes:
    """The `token` action's key: DCP_TOKEN_KEY (hex), else the stack's Secrets Manager secret."""
    from_env = os.environ.get("DCP_TOKEN_KEY")
    if from_env:
        try:
            return bytes.fromhex(from_env)
        except ValueError:
            raise UsageFailure("DCP_TOKEN_KEY must be hex (e.g. `openssl rand -hex 32`)") from None
    from dcp.stack.names import StackNames

    names = StackNames.of(app.settings, app.aws.account_id, app.aws.region)
    try:
        secret = app.aws.client("secretsmanager").get_secret_value(SecretId=names.token_secret)
    except Exception as exc:
        raise RuntimeFailure(
            f"no token key: set DCP_TOKEN_KEY (hex) or run `dcp up` to create {names.token_secret} "
            f"({type(exc).__name__})"
        ) from None
    return bytes.fromhex(secret["SecretString"])


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

    \b
    dcp mask data/card.csv data/customer.csv --out masked/
    dcp mask data/ --findings findings.jsonl --out masked/
    """
    inputs = list(expand_inputs(app, paths))
    if findings_file:
        parsed = Finding.from_json(Path(findings_file).read_bytes())
        for error in parsed.errors:
            app.console.warn(f"{findings_file}: skipped a finding: {error}")
        findings = list(parsed.findings)
    else:
        findings = [f for _, f in classify_inputs(app, iter(inputs), None) if f is not None]
    schemas = {}
    for item in inputs:
        with about(f"file {item.name}"):
            reader = open_batches(item.source, fmt=format_of(item.name), key=item.key)
        schemas[table_from_key(item.key)] = reader.schema
    plan = MaskingPlan.from_findings(findings, app.settings.masking.to_policy(), schemas)
    for warning in plan.warnings:
        app.console.warn(warning)
    needs_token = any(r.action is Action.TOKEN for t in plan.tables.values() for r in t.columns.values())
    token_key = _token_key(app) if needs_token else None
    kms = app.aws.client("kms") if plan.tables else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for item in inputs:
        table = table_from_key(item.key)
        table_plan = plan.tables.get(table)
        if table_plan is None:
            table_plan = TablePlan(columns={}, name=table)
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
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
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

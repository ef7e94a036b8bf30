"""`dcp demo`: the whole pipeline on the sandbox, up to down, in a few minutes.

Plaintext of flagged columns is never printed: the raw zone is shown as a count and a column
list, revealed data as counts and an equality check; masked rows and ciphertext are shown.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from dcp.cli import App, RuntimeFailure

SHOW_ROWS = 3
CIPHERTEXT_SHOWN = 28


def _short(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("v1:") and len(value) > CIPHERTEXT_SHOWN:
        return value[:CIPHERTEXT_SHOWN] + "…"
    return value


@click.command()
@click.option("--rows", type=click.IntRange(10, 100_000), default=200, show_default=True, help="Rows per table.")
@click.option("--seed", "seed_value", type=int, default=42, show_default=True, help="Faker seed.")
@click.option(
    "--update-fraction",
    type=click.FloatRange(0.01, 1.0),
    default=0.1,
    show_default=True,
    help="Share of rows the CDC round changes.",
)
@click.option("--keep", is_flag=True, help="Leave the stack and the sandbox running at the end.")
@click.pass_context
def demo(ctx: click.Context, rows: int, seed_value: int, update_fraction: float, keep: bool) -> None:
    """up → seed → scan → grant → a query per persona → reveal → a CDC round → down."""
    app = ctx.find_object(App)
    assert app is not None
    stop_sandbox = _force_local(app)
    console = app.console
    clock = time.monotonic()
    app.yes = True
    from dcp.pipeline.audit import CHECKS, AuditRow, differences, matrix, run_audit

    audit_rows: list[AuditRow] = []
    failed = True
    try:
        with _stage(app, "1/8 dcp up: build the stack"):
            ctx.invoke(_command(ctx, "up"))
        with _stage(app, f"2/8 dcp seed --rows {rows} --seed {seed_value}"):
            ctx.invoke(_command(ctx, "seed"), rows=rows, seed_value=seed_value)
        with _stage(app, "3/8 dcp scan --wait: DMS → raw bucket → Macie → EventBridge → Firehose → Glue"):
            ctx.invoke(_command(ctx, "scan"), wait=True)
        with _stage(app, "4/8 dcp grant --all: LF-tags from the findings, LF-tag grants per persona"):
            ctx.invoke(_command(ctx, "grant"), all_personas=True)
        with _stage(app, "5/8 what each persona sees"):
            _persona_views(app)
        with _stage(app, "6/8 reveal: the training path"):
            _reveal(app, rows, seed_value)
        with _stage(app, f"7/8 a CDC round: dcp seed --update-fraction {update_fraction}; dcp scan --wait"):
            _cdc_round(ctx, app, update_fraction, seed_value)
        with _stage(app, "dcp audit: every persona tries what it must and must not do"):
            audit_rows = run_audit(app.aws, app.names)
        failed = False
    finally:
        if keep:
            console.info(f"stack and sandbox left running: use --endpoint-url {app.endpoint_url}")
        else:
            try:
                with _stage(app, "8/8 dcp down"):
                    ctx.invoke(_command(ctx, "down"))
            except Exception as exc:
                if not failed:
                    raise
                console.warn(f"`dcp down` after the failure failed too: {exc}")
            finally:
                stop_sandbox()
    if audit_rows:
        console.table("What each persona can do (dcp audit)", ["persona", *CHECKS], matrix(audit_rows), key="personas")
        diffs = differences(audit_rows)
        for row in diffs:
            console.error(row.difference())
        if diffs:
            raise RuntimeFailure(f"dcp audit: {len(diffs)} difference(s) between the intended and the actual access")
    console.success(f"demo finished in {time.monotonic() - clock:.0f}s")


def _force_local(app: App) -> Callable[[], None]:
    """Unless an endpoint was given, run on a fresh sandbox of our own (its state in a temporary
    folder, so an earlier run's leftovers cannot interfere); the returned function stops it."""
    if app.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"):
        return lambda: None
    from dcp.sandbox import control

    control.require_extra()  # before the temporary folder, which a failed start would leave behind
    state = Path(tempfile.mkdtemp(prefix="dcp-demo-")) / ".dcp"
    state.mkdir()
    started = control.start(state, source_url=app.settings.source.sandbox_url or None)
    for key, value in control.sandbox_credentials().items():
        os.environ[key] = value
    app.endpoint_url = started.url
    app.console.info(f"sandbox for the demo at {started.url} (state in {state})")

    def stop() -> None:
        with contextlib.suppress(control.SandboxError):
            control.stop(state)
        shutil.rmtree(state.parent, ignore_errors=True)

    return stop


def _command(ctx: click.Context, name: str) -> click.Command:
    group = ctx.parent.command if ctx.parent is not None else None
    command = group.get_command(ctx, name) if isinstance(group, click.Group) else None
    if command is None:
        raise RuntimeFailure(f"the `{name}` command is not available in this build")
    return command


@contextmanager
def _stage(app: App, title: str) -> Iterator[None]:
    start = time.monotonic()
    app.console.text(f"\n[bold]== {title}[/bold]")
    yield
    app.console.info(f"   ({time.monotonic() - start:.1f}s)")


def _print_result(app: App, title: str, result: Any) -> None:
    if isinstance(result, str):
        app.console.text(f"{title}: [red]refused[/red] — {result}")
        return
    rows = [{k: _short(v) for k, v in row.items()} for row in result.rows]
    app.console.table(title, list(result.columns), rows, key="rows")


def _persona_views(app: App) -> None:
    from dcp.pipeline.demo import try_query

    names = app.names
    raw, masked, enc = names.raw_database, names.masked_database, names.encrypted_database
    # lf-admin reads the raw zone: shown as a count and the columns, never the values
    count = try_query(app.aws, names, "lf-admin", f'SELECT count(*) AS n FROM "{raw}"."customer"')
    columns = try_query(app.aws, names, "lf-admin", f'SELECT * FROM "{raw}"."customer" LIMIT 0')
    if isinstance(count, str) or isinstance(columns, str):
        app.console.text(f"lf-admin on {raw}.customer: refused — {count if isinstance(count, str) else columns}")
    else:
        n = count.rows[0].get("n") if count.rows else "?"
        app.console.text(
            f"lf-admin reads {raw}.customer: {n} rows of plaintext, columns {', '.join(columns.columns)} "
            "(values not shown)"
        )
    for table in ("customer", "card"):
        _print_result(
            app,
            f"analyst: {masked}.{table}",
            try_query(
                app.aws,
                names,
                "analyst",
                f'SELECT * FROM "{masked}"."{table}" ORDER BY CAST(id AS BIGINT) LIMIT {SHOW_ROWS}',
            ),
        )
    _print_result(
        app,
        f"analyst: {enc}.card",
        try_query(app.aws, names, "analyst", f'SELECT * FROM "{enc}"."card" LIMIT {SHOW_ROWS}'),
    )
    _print_result(
        app,
        f"data-scientist: {enc}.card (ciphertext)",
        try_query(
            app.aws,
            names,
            "data-scientist",
            f'SELECT * FROM "{enc}"."card" ORDER BY CAST(id AS BIGINT) LIMIT {SHOW_ROWS}',
        ),
    )


def _reveal(app: App, rows: int, seed_value: int) -> None:
    from dcp.pipeline.demo import can_decrypt, compare_with_source
    from dcp.pipeline.reveal import reveal_as
    from dcp.pipeline.seed import generate

    names = app.names
    for table in app.settings.source.tables:
        revealed = reveal_as(app.aws, names, names.persona_role_arn("ml-training"), table)
        check = compare_with_source(revealed.data, revealed.decrypted_columns, generate(table, rows, seed_value))
        verdict = "all equal to the source" if check.equal else f"{check.mismatched} differ from the source"
        app.console.text(
            f"ml-training decrypted {len(check.columns)} column(s) ({', '.join(check.columns)}) of "
            f"{check.rows} {table} rows: {verdict}"
        )
        if not check.equal:
            raise RuntimeFailure(f"revealed {table} does not match the seeded data")
    verdict = can_decrypt(app.aws, names, "data-scientist", "card")
    app.console.text(f"data-scientist decrypting card: {verdict}")


def _cdc_round(ctx: click.Context, app: App, fraction: float, seed_value: int) -> None:
    from dcp.pipeline.demo import cdc_change, masked_rows
    from dcp.pipeline.grant import load_findings, pii_columns

    names = app.names
    before = masked_rows(app.aws, names, "customer")
    ctx.invoke(_command(ctx, "seed"), update_fraction=fraction, seed_value=seed_value)
    ctx.invoke(_command(ctx, "scan"), wait=True)
    after = masked_rows(app.aws, names, "customer")
    flagged = pii_columns(load_findings(app.aws, names)).get("customer", set())
    change = cdc_change(before, after, sorted(flagged))
    app.console.text(
        f"masked customer: {change.rows_before} rows before, {change.rows_after} after "
        f"({change.inserted} inserted, {change.deleted} deleted, {change.changed} changed)"
    )
    if change.example is not None:
        key, column, old, new = change.example
        kind = "masked" if column in flagged else "not flagged, kept"
        app.console.text(f"id {key}: {column} ({kind}) {old} → {new}")

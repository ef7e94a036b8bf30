"""The one place that prints: rich tables and progress for people, plain JSON for `--output json`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console as RichConsole
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

OUTPUT_FORMATS = ("table", "json", "csv")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def to_json(data: Any) -> str:
    return json.dumps(data, default=_json_default, sort_keys=False)


@dataclass
class Console:
    """Tables and messages go to stdout, progress and notes to stderr (so JSON stays parseable)."""

    output: str = "table"
    out: RichConsole = field(default_factory=lambda: RichConsole(soft_wrap=False))
    err: RichConsole = field(default_factory=lambda: RichConsole(stderr=True))

    @property
    def machine(self) -> bool:
        return self.output != "table"

    def table(
        self,
        title: str,
        columns: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        *,
        key: str | None = None,
    ) -> None:
        """Print rows as a rich table, or as JSON / CSV records under `key` (or a bare list)."""
        if self.output == "json":
            self.out.file.write(to_json({key: list(rows)} if key else list(rows)) + "\n")
            return
        if self.output == "csv":
            import csv

            writer = csv.writer(self.out.file, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
            return
        table = Table(title=title, title_justify="left", header_style="bold")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))
        self.out.print(table)

    def data(self, value: Any) -> None:
        """A machine-readable document (JSON mode) — in table mode, use `table`."""
        self.out.file.write(to_json(value) + "\n")

    def info(self, message: str) -> None:
        if not self.machine:
            self.err.print(message, highlight=False)

    def success(self, message: str) -> None:
        if not self.machine:
            self.err.print(f"[green]{message}[/green]", highlight=False)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {_escape(message)}", highlight=False, soft_wrap=True)

    def error(self, message: str) -> None:
        self.err.print(f"[red]error:[/red] {_escape(message)}", highlight=False, soft_wrap=True)

    def text(self, message: str) -> None:
        """Plain text on stdout (for human output that is the command's result)."""
        self.out.print(message, highlight=False)

    @contextmanager
    def progress(self, *, transient: bool = False) -> Iterator[Progress]:
        """A progress display on stderr; silent in machine-readable output modes."""
        progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.err,
            transient=transient,
            disable=self.machine or (not self.err.is_terminal and False),
        )
        with progress:
            yield progress

    def confirm(self, question: str, *, assume_yes: bool) -> bool:
        if assume_yes:
            return True
        if not sys.stdin.isatty():
            return False
        return self.err.input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return _escape(str(value))


_console = Console()


def get_console() -> Console:
    return _console


def set_output(output: str) -> Console:
    global _console
    _console = Console(output=output)
    return _console

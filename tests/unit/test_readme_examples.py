"""Every `dcp ...` example in README.md parses as typed, with global options before or after the command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from dcp.cli import App, cli

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_examples() -> list[str]:
    """`dcp ...` code spans of README.md (a bare `status` after ` · ` continues the previous command)."""
    examples: list[str] = []
    for line in README.read_text(encoding="utf-8").splitlines():
        spans = re.findall(r"`([^`]+)`", line)
        table_row = line.startswith("| `dcp")
        if table_row:
            spans = spans[1:]  # the command table's first column names the command, the second shows it typed
        last = None
        for span in spans:
            # in prose, `dcp sandbox` alone names a command; in the table every span is typed as shown
            if span.startswith("dcp ") and (table_row or len(span.split()) > 2):
                examples.append(span)
                last = span.split()[:2]
            elif last is not None and last[1] == "sandbox" and re.fullmatch(r"[a-z]+", span):
                examples.append(f"dcp sandbox {span}")
    return examples


def parse(args: list[str]) -> tuple[click.Context, App]:
    """Parse like `dcp` does, down to the leaf command, running the group callback (no command body)."""
    ctx = cli.make_context("dcp", list(args))
    app = App(None, None, None, None, "table", False, False, False)
    ctx.obj = app
    group: click.Command = cli
    while isinstance(group, click.Group):
        name, command, rest = group.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert command is not None, f"unknown command {name!r}"
        ctx = command.make_context(name, rest, parent=ctx)
        group = command
    return ctx, app


def test_readme_has_examples_for_every_command() -> None:
    commands = {example.split()[1] for example in readme_examples()}
    assert {"plan", "up", "down", "status", "sandbox", "seed", "scan", "grant", "query", "reveal"} <= commands


@pytest.mark.parametrize("example", readme_examples())
def test_readme_example_parses(example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = shlex.split(example)[1:]
    monkeypatch.chdir(tmp_path)
    for arg in args:  # the local files an example names exist, as they would for its reader
        if arg.endswith("/") and not arg.startswith("s3:"):
            (tmp_path / arg).mkdir(parents=True, exist_ok=True)
        elif re.fullmatch(r"[\w/]+\.(csv|jsonl|json|parquet)", arg):
            (tmp_path / arg).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / arg).touch()
    ctx, _ = parse(args)
    assert ctx.command.name in args


@pytest.mark.parametrize(
    ("args", "attribute", "value"),
    [
        (["plan", "--output", "json"], "output", "json"),
        (["status", "--output", "json"], "output", "json"),
        (["up", "--yes"], "yes", True),
        (["up", "-y"], "yes", True),
        (["seed", "--local"], "local", True),
        (["grant", "--all", "--region", "eu-west-1"], "region", "eu-west-1"),
        (["scan", "--profile", "dev"], "profile", "dev"),
        (["plan", "--config", "other.yaml"], "config_path", "other.yaml"),
        (["status", "--endpoint-url", "http://127.0.0.1:4566"], "endpoint_url", "http://127.0.0.1:4566"),
        (["sandbox", "status", "--output", "json"], "output", "json"),
        (["sandbox", "--output", "json", "status"], "output", "json"),
        (["plan", "--debug"], "debug", True),
    ],
)
def test_global_options_work_after_the_command(args: list[str], attribute: str, value: object) -> None:
    _, app = parse(args)
    assert getattr(app, attribute) == value


def test_global_options_still_work_before_the_command() -> None:
    ctx = cli.make_context("dcp", ["--output", "json", "--yes", "plan"])
    assert ctx.params["output"] == "json" and ctx.params["yes"] is True


def test_a_command_keeps_its_own_option_of_the_same_name() -> None:
    ctx, _ = parse(["down", "--yes"])
    assert ctx.params["yes_here"] is True
    ctx, _ = parse(["query", "--persona", "analyst", "select 1", "--output", "csv"])
    assert ctx.params["output"] == "csv"

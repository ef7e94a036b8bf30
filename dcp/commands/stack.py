"""`dcp plan`, `dcp up`, `dcp down`: show, apply and tear down the stack."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import click

from dcp.cli import App, RuntimeFailure, UsageFailure, pass_app
from dcp.console import Console
from dcp.stack import deploy
from dcp.stack.build import Stack, build_stack
from dcp.stack.deploy import DEFAULT_WORKERS
from dcp.stack.executor import Listener, Outcome, Result
from dcp.stack.planner import Plan, Step

PLAN_COLUMNS = ("resource", "kind", "name", "action", "reason")


def workers_option(fn: Any) -> Any:
    return click.option(
        "--workers",
        type=click.IntRange(1, 64),
        default=DEFAULT_WORKERS,
        show_default=True,
        help="Independent resources handled in parallel.",
    )(fn)


def load_stack(app: App) -> Stack:
    settings = app.settings  # config errors stop here, before any AWS call
    return build_stack(settings, app.aws)


def show_plan(console: Console, plan: Plan, title: str) -> None:
    rows = [s.to_json() for s in plan.steps]
    if console.machine:
        console.data(plan.to_json())
        return
    console.table(title, PLAN_COLUMNS, rows)
    summary = ", ".join(f"{n} {a}" for a, n in sorted(plan.counts().items()))
    console.info(f"{len(plan.changes)} change(s): {summary}")


@contextmanager
def live_progress(console: Console, plan: Plan, verb: str) -> Iterator[Listener]:
    """A live table on stderr: one line per running or finished step, and an overall bar."""
    with console.progress() as progress:
        overall = progress.add_task(verb, total=len(plan.changes), status="")
        tasks: dict[str, Any] = {}
        lock = threading.Lock()

        def listener(step: Step, outcome: Outcome | None, detail: str) -> None:
            with lock:
                label = f"{step.action.value} {step.resource}"
                if outcome is None:
                    tasks[step.resource] = progress.add_task(label, total=1, status="running")
                    return
                task = tasks.get(step.resource)
                if task is None:
                    return  # skipped before it started
                status = {Outcome.DONE: "[green]done[/green]", Outcome.FAILED: "[red]failed[/red]"}.get(
                    outcome, str(outcome)
                )
                progress.update(task, completed=1, status=status)
                progress.advance(overall)

        yield listener


def report_failure(result: Result, verb: str) -> None:
    failed = result.failed
    if failed is not None:
        skipped = sum(1 for r in result.results if r.outcome is Outcome.SKIPPED)
        raise RuntimeFailure(
            f"{verb} failed at {failed.step.resource} ({failed.step.kind} {failed.step.physical}): {failed.error}"
            + (f"; {skipped} step(s) not started" if skipped else "")
            + "; run the command again once the cause is fixed"
        )


@click.command()
@workers_option
@pass_app
def plan(app: App, workers: int) -> None:
    """Show what `dcp up` would create, update or replace, and why."""
    stack, the_plan = deploy.plan(app.settings, app.aws, workers=workers)
    show_plan(
        app.console, the_plan, f"Plan for stack {stack.names.prefix} ({stack.names.account_id}, {stack.names.region})"
    )
    for type_id, reason in app.settings.undetectable_action_types().items():
        app.console.warn(f"masking.actions.{type_id}: {reason}")


@click.command()
@workers_option
@pass_app
def up(app: App, workers: int) -> None:
    """Create or update every resource of the stack (idempotent; safe to rerun after a failure)."""
    console = app.console
    stack, the_plan = deploy.plan(app.settings, app.aws, workers=workers)
    if not the_plan.changes:
        if console.machine:
            console.data({"plan": the_plan.to_json(), "result": Result().to_json()})
        else:
            console.success(f"stack {stack.names.prefix} is up to date ({len(the_plan.steps)} resources)")
        return
    if not console.machine:
        show_plan(console, the_plan, f"Applying to stack {stack.names.prefix}")
    with live_progress(console, the_plan, "up") as listener:
        outcome = deploy.apply(stack, the_plan, app.aws, workers=workers, listener=listener)
    if console.machine:
        console.data(outcome.to_json())
    result = outcome.result
    report_failure(result, "up")
    console.success(f"stack {stack.names.prefix} is up: {len(the_plan.changes)} change(s) in {result.seconds:.1f}s")


@click.command()
@click.option("--yes", "-y", "yes_here", is_flag=True, help="Do not ask for confirmation.")
@workers_option
@pass_app
def down(app: App, yes_here: bool, workers: int) -> None:
    """Delete every resource of the stack, then sweep anything still tagged with it."""
    console = app.console
    settings = app.settings
    assume_yes = app.yes or yes_here
    if not assume_yes and not sys.stdin.isatty():
        raise UsageFailure(
            f"`dcp down` deletes stack {settings.prefix} and its data; pass --yes to confirm when not on a terminal"
        )
    stack, the_plan = deploy.plan_teardown(settings, app.aws, workers=workers)
    if not console.machine:
        show_plan(console, the_plan, f"Tear-down of stack {stack.names.prefix}")
    if the_plan.changes and not console.confirm(
        f"Delete {len(the_plan.changes)} resource(s) of stack {stack.names.prefix}, including all bucket data?",
        assume_yes=assume_yes,
    ):
        raise RuntimeFailure("nothing deleted (not confirmed)")
    with live_progress(console, the_plan, "down") if the_plan.changes else nullcontext(None) as listener:
        outcome = deploy.tear_down(stack, the_plan, app.aws, workers=workers, listener=listener)
    result, swept = outcome.result, outcome.swept
    if console.machine:
        console.data(outcome.to_json())
    report_failure(result, "down")
    if swept and not console.machine:
        console.table(
            "Swept leftovers tagged with the stack", ("arn", "kind", "deleted", "error"), [s.to_json() for s in swept]
        )
    failed = [s for s in swept if not s.deleted]
    if failed:
        raise RuntimeFailure(
            f"down could not delete {failed[0].item.arn}: {failed[0].error}"
            + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
        )
    console.success(f"stack {stack.names.prefix} is down ({len(the_plan.changes)} deleted, {len(swept)} swept)")

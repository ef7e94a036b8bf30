"""Run a plan: each step once its prerequisites are done, independent branches in parallel.

On the first failure no new step starts; running steps finish; the result names the failed
step and its error. Every create adopts an existing resource of the same name, so a rerun of
`up` continues from wherever the failed one stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dcp.aws.errors import error_code, error_message
from dcp.aws.session import AwsContext
from dcp.stack.planner import Action, Plan, Step
from dcp.stack.resources.base import Resource


class Outcome(StrEnum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # not started because an earlier step failed


@dataclass(frozen=True)
class StepResult:
    step: Step
    outcome: Outcome
    seconds: float = 0.0
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            **self.step.to_json(),
            "outcome": self.outcome.value,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


@dataclass
class Result:
    results: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> StepResult | None:
        return next((r for r in self.results if r.outcome is Outcome.FAILED), None)

    @property
    def ok(self) -> bool:
        return self.failed is None

    def to_json(self) -> dict[str, Any]:
        failed = self.failed
        return {
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "failed": failed.to_json() if failed else None,
            "steps": [r.to_json() for r in self.results],
        }


#: Called when a step starts (outcome None) and when it ends.
Listener = Callable[[Step, Outcome | None, str], None]


def describe_error(exc: BaseException) -> str:
    """One line: the AWS operation, error code and message (or the exception)."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return f"{exc.operation_name}: {error_code(exc) or 'Error'}: {error_message(exc)}".strip()
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_step(resource: Resource, step: Step, ctx: AwsContext, current: Mapping[str, Any] | None) -> None:
    if step.action is Action.CREATE:
        resource.create(ctx)
    elif step.action is Action.UPDATE:
        resource.update(ctx, current or {}, step.changed)
    elif step.action is Action.REPLACE:
        resource.delete(ctx)
        resource.create(ctx)
    elif step.action is Action.DELETE:
        resource.delete(ctx)


def execute(
    plan: Plan,
    resources: Sequence[Resource],
    ctx: AwsContext,
    *,
    workers: int = 8,
    listener: Listener | None = None,
) -> Result:
    """Run the plan's mutating steps in dependency order with up to `workers` threads."""
    started = time.monotonic()
    by_name = {r.logical: r for r in resources}
    pending = {s.resource: s for s in plan.steps if s.action.mutates}
    # A step waits only for prerequisites that themselves have work to do.
    waits = {name: {d for d in plan.after.get(name, ()) if d in pending} for name in pending}
    finished: set[str] = set()
    results: dict[str, StepResult] = {}
    failed = threading.Event()
    notify = listener or (lambda step, outcome, detail: None)

    def run(step: Step) -> StepResult:
        t0 = time.monotonic()
        notify(step, None, "")
        try:
            run_step(by_name[step.resource], step, ctx, plan.current.get(step.resource))
        except Exception as exc:
            failed.set()
            line = describe_error(exc)
            notify(step, Outcome.FAILED, line)
            return StepResult(step, Outcome.FAILED, time.monotonic() - t0, line)
        notify(step, Outcome.DONE, "")
        return StepResult(step, Outcome.DONE, time.monotonic() - t0)

    running: dict[Future[StepResult], str] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="dcp-step") as pool:
        while True:
            if not failed.is_set():
                for name, step in list(pending.items()):
                    if waits[name] <= finished:
                        del pending[name]
                        running[pool.submit(run, step)] = name
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                result = future.result()
                results[name] = result
                if result.outcome is Outcome.DONE:
                    finished.add(name)
    for name, step in pending.items():
        results[name] = StepResult(step, Outcome.SKIPPED)
        notify(step, Outcome.SKIPPED, "")
    ordered = [results[s.resource] for s in plan.steps if s.resource in results]
    return Result(ordered, time.monotonic() - started)

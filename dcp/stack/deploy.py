"""The three stack operations the commands and benchmarks call: plan, up and down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dcp.aws.session import AwsContext
from dcp.config import Settings
from dcp.stack.build import Stack, build_stack
from dcp.stack.executor import Listener, Result, execute
from dcp.stack.planner import Plan, plan_down, plan_stack
from dcp.stack.sweeper import SweepResult, sweep

DEFAULT_WORKERS = 8


@dataclass
class UpResult:
    plan: Plan
    result: Result

    def to_json(self) -> dict[str, Any]:
        return {"plan": self.plan.to_json(), "result": self.result.to_json()}


@dataclass
class DownResult:
    plan: Plan
    result: Result
    swept: list[SweepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result.ok and all(s.deleted for s in self.swept)

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json(),
            "result": self.result.to_json(),
            "swept": [s.to_json() for s in self.swept],
        }


def plan(settings: Settings, ctx: AwsContext, *, workers: int = DEFAULT_WORKERS) -> tuple[Stack, Plan]:
    """The stack for `settings` and what `up` would change."""
    stack = build_stack(settings, ctx)
    return stack, plan_stack(stack.resources, ctx, workers=workers)


def plan_teardown(settings: Settings, ctx: AwsContext, *, workers: int = DEFAULT_WORKERS) -> tuple[Stack, Plan]:
    """The stack for `settings` and what `down` would delete."""
    stack = build_stack(settings, ctx)
    return stack, plan_down(stack.resources, ctx, workers=workers)


def apply(
    stack: Stack, the_plan: Plan, ctx: AwsContext, *, workers: int = DEFAULT_WORKERS, listener: Listener | None = None
) -> UpResult:
    """Carry out `up`'s plan."""
    return UpResult(the_plan, execute(the_plan, stack.resources, ctx, workers=workers, listener=listener))


def tear_down(
    stack: Stack, the_plan: Plan, ctx: AwsContext, *, workers: int = DEFAULT_WORKERS, listener: Listener | None = None
) -> DownResult:
    """Carry out `down`'s plan, then (if every delete succeeded) sweep what is still tagged with the stack."""
    result = (
        execute(the_plan, stack.resources, ctx, workers=workers, listener=listener) if the_plan.changes else Result()
    )
    swept = sweep(ctx, stack.names) if result.ok else []
    return DownResult(the_plan, result, swept)


def up(
    settings: Settings, ctx: AwsContext, *, workers: int = DEFAULT_WORKERS, listener: Listener | None = None
) -> UpResult:
    stack, the_plan = plan(settings, ctx, workers=workers)
    return apply(stack, the_plan, ctx, workers=workers, listener=listener)


def down(
    settings: Settings, ctx: AwsContext, *, workers: int = DEFAULT_WORKERS, listener: Listener | None = None
) -> DownResult:
    stack, the_plan = plan_teardown(settings, ctx, workers=workers)
    return tear_down(stack, the_plan, ctx, workers=workers, listener=listener)

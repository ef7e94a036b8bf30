"""Turn desired vs. current state into a plan: create / update / replace / no-op / delete, with reasons.

`read_stack` is the only I/O here (every resource read concurrently); `compare` and
`plan_teardown` are pure functions of the resources' specs and what was read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dcp.aws.session import AwsContext
from dcp.stack.resources.base import Resource


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    NOOP = "no-op"
    DELETE = "delete"
    KEEP = "keep"  # `down` leaves a pre-existing thing in place

    @property
    def mutates(self) -> bool:
        return self not in (Action.NOOP, Action.KEEP)


@dataclass(frozen=True)
class Step:
    resource: str  # logical name
    kind: str
    physical: str
    action: Action
    reason: str
    changed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "kind": self.kind,
            "name": self.physical,
            "action": self.action.value,
            "reason": self.reason,
            "changed": list(self.changed),
        }


@dataclass
class Plan:
    """Steps in dependency order; `after` maps each step to the steps it waits for."""

    steps: list[Step]
    after: dict[str, tuple[str, ...]] = field(default_factory=dict)
    current: dict[str, dict[str, Any] | None] = field(default_factory=dict, repr=False)

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.action.mutates]

    def step(self, logical: str) -> Step:
        return next(s for s in self.steps if s.resource == logical)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.steps:
            out[s.action.value] = out.get(s.action.value, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"steps": [s.to_json() for s in self.steps], "summary": self.counts()}


# --------------------------------------------------------------------------- pure comparison


def diff(desired: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The desired keys whose current value differs (keys starting with `_` are never compared)."""
    return [k for k, v in desired.items() if not k.startswith("_") and current.get(k) != v]


def order(resources: Sequence[Resource]) -> list[Resource]:
    """Resources in dependency order (stable; dependencies first). Raises on cycles/unknowns."""
    by_name = {r.logical: r for r in resources}
    for r in resources:
        for d in r.depends_on:
            if d not in by_name:
                raise ValueError(f"{r.logical} depends on unknown resource {d}")
    done: dict[str, bool] = {}
    out: list[Resource] = []

    def visit(r: Resource, path: tuple[str, ...]) -> None:
        if done.get(r.logical):
            return
        if r.logical in path:
            raise ValueError(f"dependency cycle: {' -> '.join((*path, r.logical))}")
        for d in r.depends_on:
            visit(by_name[d], (*path, r.logical))
        done[r.logical] = True
        out.append(r)

    for r in resources:
        visit(r, ())
    return out


def compare(resources: Sequence[Resource], current: Mapping[str, dict[str, Any] | None]) -> Plan:
    """The plan that makes every resource match its desired spec."""
    steps = []
    for r in order(resources):
        now = current.get(r.logical)
        if r.retired:
            if now is not None:
                steps.append(Step(r.logical, r.kind, r.physical, Action.DELETE, "retired: the stack no longer uses it"))
            continue
        if now is None:
            steps.append(Step(r.logical, r.kind, r.physical, Action.CREATE, "does not exist"))
            continue
        changed = diff(r.desired(), now)
        if not changed:
            steps.append(Step(r.logical, r.kind, r.physical, Action.NOOP, "up to date"))
        elif r.replace_fields.intersection(changed):
            fixed = sorted(r.replace_fields.intersection(changed))
            steps.append(
                Step(
                    r.logical,
                    r.kind,
                    r.physical,
                    Action.REPLACE,
                    f"{', '.join(fixed)} cannot change in place",
                    tuple(changed),
                )
            )
        else:
            steps.append(
                Step(r.logical, r.kind, r.physical, Action.UPDATE, f"differs: {', '.join(changed)}", tuple(changed))
            )
    after = {r.logical: r.depends_on for r in resources}
    return Plan(steps, after, dict(current))


def plan_teardown(resources: Sequence[Resource], current: Mapping[str, dict[str, Any] | None]) -> Plan:
    """Deletes in reverse dependency order: a step waits for everything that depends on it."""
    steps = []
    for r in reversed(order(resources)):
        now = current.get(r.logical)
        if now is None:
            steps.append(Step(r.logical, r.kind, r.physical, Action.NOOP, "absent"))
        elif not r.owned(now):
            steps.append(Step(r.logical, r.kind, r.physical, Action.KEEP, "existed before the stack; left in place"))
        else:
            steps.append(Step(r.logical, r.kind, r.physical, Action.DELETE, "part of the stack"))
    dependents: dict[str, list[str]] = {r.logical: [] for r in resources}
    for r in resources:
        for d in r.depends_on:
            dependents[d].append(r.logical)
    after = {k: tuple(v) for k, v in dependents.items()}
    return Plan(steps, after, dict(current))


# --------------------------------------------------------------------------- I/O


def read_stack(resources: Sequence[Resource], ctx: AwsContext, *, workers: int = 8) -> dict[str, dict[str, Any] | None]:
    """Every resource's current state, read concurrently (reads are independent)."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="dcp-read") as pool:
        futures = {r.logical: pool.submit(r.read, ctx) for r in resources}
        return {name: f.result() for name, f in futures.items()}


def plan_stack(resources: Sequence[Resource], ctx: AwsContext, *, workers: int = 8) -> Plan:
    return compare(resources, read_stack(resources, ctx, workers=workers))


def plan_down(resources: Sequence[Resource], ctx: AwsContext, *, workers: int = 8) -> Plan:
    return plan_teardown(resources, read_stack(resources, ctx, workers=workers))

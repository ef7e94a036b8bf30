"""The planner and executor on in-memory resources: pure comparison, ordering, failure handling."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from dcp.stack.executor import Outcome, execute
from dcp.stack.planner import Action, compare, diff, order, plan_teardown
from dcp.stack.resources.base import Resource, canonical


class Store:
    """A pretend account: name -> spec, with an operation log."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0


class Thing(Resource):
    kind = "test.thing"
    replace_fields = frozenset({"immutable"})

    def __init__(
        self,
        name: str,
        store: Store,
        spec: dict[str, Any],
        deps: Sequence[str] = (),
        fail: str | None = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__(name, f"phys-{name}", refs=None, depends_on=deps)  # type: ignore[arg-type]
        self.store, self.spec, self.fail, self.delay = store, spec, fail, delay

    def desired(self) -> dict[str, Any]:
        return dict(self.spec)

    def read(self, ctx: Any) -> dict[str, Any] | None:
        return self.store.items.get(self.logical)

    def _op(self, op: str) -> None:
        with self.store.lock:
            self.store.running += 1
            self.store.max_running = max(self.store.max_running, self.store.running)
        time.sleep(self.delay)
        with self.store.lock:
            self.store.running -= 1
            self.store.log.append((op, self.logical))
        if self.fail == op:
            raise RuntimeError(f"{op} of {self.logical} failed\nsecond line")

    def create(self, ctx: Any) -> None:
        self._op("create")
        self.store.items[self.logical] = dict(self.spec)

    def update(self, ctx: Any, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        self._op("update")
        self.store.items[self.logical].update({k: self.spec[k] for k in changed})

    def delete(self, ctx: Any) -> None:
        self._op("delete")
        self.store.items.pop(self.logical, None)


def test_diff_names_only_differing_desired_keys() -> None:
    assert diff({"a": 1, "b": [1, 2], "_x": 1}, {"a": 1, "b": [2, 1], "c": 3, "_x": 2}) == ["b"]
    assert diff({"a": None}, {}) == []


def test_canonical_policy_documents_compare_equal() -> None:
    a = {"Statement": [{"Action": ["s3:GetObject"], "Resource": "arn:x"}], "Version": "2012-10-17"}
    b = {"Version": "2012-10-17", "Statement": {"Resource": ["arn:x"], "Action": "s3:GetObject"}}
    assert canonical(a) == canonical(b)


def test_plan_create_update_replace_noop_with_reasons() -> None:
    store = Store()
    store.items = {"b": {"size": 1}, "c": {"size": 2, "immutable": "x"}, "d": {"size": 3}}
    things = [
        Thing("a", store, {"size": 1}),
        Thing("b", store, {"size": 2}, ["a"]),
        Thing("c", store, {"size": 2, "immutable": "y"}),
        Thing("d", store, {"size": 3}),
    ]
    plan = compare(things, {t.logical: t.read(None) for t in things})
    got = {s.resource: (s.action, s.reason) for s in plan.steps}
    assert got == {
        "a": (Action.CREATE, "does not exist"),
        "b": (Action.UPDATE, "differs: size"),
        "c": (Action.REPLACE, "immutable cannot change in place"),
        "d": (Action.NOOP, "up to date"),
    }


def test_order_puts_dependencies_first_and_rejects_cycles() -> None:
    store = Store()
    things = [Thing("c", store, {}, ["b"]), Thing("b", store, {}, ["a"]), Thing("a", store, {})]
    assert [t.logical for t in order(things)] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="cycle"):
        order([Thing("x", store, {}, ["y"]), Thing("y", store, {}, ["x"])])
    with pytest.raises(ValueError, match="unknown"):
        order([Thing("x", store, {}, ["nope"])])


def test_executor_respects_dependencies_and_runs_independent_steps_in_parallel() -> None:
    store = Store()
    things = [Thing(f"leaf{i}", store, {"n": i}, delay=0.05) for i in range(6)]
    things.append(Thing("root", store, {"n": 0}, [f"leaf{i}" for i in range(6)]))
    plan = compare(things, {})
    t0 = time.monotonic()
    result = execute(plan, things, ctx=None, workers=8)  # type: ignore[arg-type]
    assert result.ok
    assert time.monotonic() - t0 < 0.25  # six 50 ms leaves at once, not 300 ms in a row
    assert store.max_running >= 4
    assert store.log[-1] == ("create", "root")
    serial = Store()
    things = [Thing(f"leaf{i}", serial, {"n": i}, delay=0.02) for i in range(4)]
    execute(compare(things, {}), things, ctx=None, workers=1)  # type: ignore[arg-type]
    assert serial.max_running == 1


def test_executor_stops_scheduling_after_a_failure_and_reports_one_line() -> None:
    store = Store()
    things = [
        Thing("a", store, {}, fail="create"),
        Thing("slow", store, {}, delay=0.1),
        Thing("after-a", store, {}, ["a"]),
        Thing("after-slow", store, {}, ["slow"]),
    ]
    result = execute(compare(things, {}), things, ctx=None, workers=4)  # type: ignore[arg-type]
    outcomes = {r.step.resource: r.outcome for r in result.results}
    assert outcomes["a"] is Outcome.FAILED
    assert outcomes["slow"] is Outcome.DONE  # running steps finish
    assert outcomes["after-a"] is Outcome.SKIPPED and outcomes["after-slow"] is Outcome.SKIPPED
    assert result.failed is not None and result.failed.error == "RuntimeError: create of a failed"
    # A rerun converges: only what is missing is created.
    things[0].fail = None
    plan = compare(things, {t.logical: t.read(None) for t in things})
    assert {s.resource for s in plan.changes} == {"a", "after-a", "after-slow"}
    assert execute(plan, things, ctx=None).ok  # type: ignore[arg-type]


def test_teardown_deletes_dependents_first_and_keeps_foreign_things() -> None:
    store = Store()
    store.items = {"a": {}, "b": {}, "shared": {"_owned": False}}
    things = [
        Thing("a", store, {}),
        Thing("b", store, {}, ["a"]),
        Thing("c", store, {}, ["a"]),
        Thing("shared", store, {}),
    ]
    plan = plan_teardown(things, {t.logical: t.read(None) for t in things})
    actions = {s.resource: s.action for s in plan.steps}
    assert actions == {"a": Action.DELETE, "b": Action.DELETE, "c": Action.NOOP, "shared": Action.KEEP}
    assert execute(plan, things, ctx=None).ok  # type: ignore[arg-type]
    assert store.log == [("delete", "b"), ("delete", "a")]
    assert "shared" in store.items

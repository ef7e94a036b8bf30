"""Deadlines for polling loops: every wait in the pipeline ends, with a clear message."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from dcp.pipeline.errors import StageTimeout

T = TypeVar("T")


@dataclass
class Deadline:
    """`seconds` from now; `sleep` never sleeps past it and raises once it has passed."""

    what: str
    seconds: float
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def remaining(self) -> float:
        return max(0.0, self.seconds - self.elapsed)

    @property
    def expired(self) -> bool:
        return self.elapsed >= self.seconds

    def sleep(self, interval: float, last_state: str = "") -> None:
        if self.expired:
            raise StageTimeout(self.what, self.seconds, last_state)
        time.sleep(min(interval, self.remaining))


def poll(
    read: Callable[[], T],
    done: Callable[[T], bool],
    deadline: Deadline,
    *,
    interval: float = 0.5,
    max_interval: float = 5.0,
    max_share: float | None = None,
    describe: Callable[[T], str] = lambda _: "",
    on_each: Callable[[T], None] | None = None,
) -> T:
    """Call `read` until `done(value)`, backing off to `max_interval`; StageTimeout at the deadline.

    With `max_share`, no pause is longer than that share of the time waited so far (but at least
    `interval`), so a wait that ends early overshoots by little and a long one still backs off."""
    wait = interval
    while True:
        value = read()
        if on_each is not None:
            on_each(value)
        if done(value):
            return value
        deadline.sleep(wait, describe(value))
        wait = min(max_interval, wait * 1.5)
        if max_share is not None:
            wait = min(wait, max(interval, max_share * deadline.elapsed))

"""`poll`'s back-off: capped by `max_interval`, and with `max_share` by the time waited so far."""

from __future__ import annotations

import time

import pytest

from dcp.pipeline import waiting
from dcp.pipeline.waiting import Deadline, poll


def _pauses(monkeypatch: pytest.MonkeyPatch, waited: float, **kwargs: float) -> list[float]:
    pauses: list[float] = []
    monkeypatch.setattr(waiting.time, "sleep", pauses.append)
    values = iter(range(8))
    deadline = Deadline("test", 3600, started=time.monotonic() - waited)
    assert poll(lambda: next(values), lambda v: v == 7, deadline, interval=0.5, max_interval=10.0, **kwargs) == 7
    return pauses


def test_a_share_of_the_time_waited_bounds_each_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _pauses(monkeypatch, 2.0)
    assert plain[-1] > 5 and plain == sorted(plain)  # 0.5 x 1.5^n: up to 8.5 s past the event
    shared = _pauses(monkeypatch, 2.0, max_share=0.1)
    assert shared == [0.5] * 7  # 10% of ~2 s is below the interval: the interval wins
    long = _pauses(monkeypatch, 40.0, max_share=0.1)
    assert max(long) == pytest.approx(4.0, abs=0.1) and long[:4] == plain[:4]

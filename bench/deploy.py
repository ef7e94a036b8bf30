"""Deploy-engine figures against moto in-process: cold `up`, no-op `up`, `down`, parallel vs serial.

    .venv/bin/python -m bench.deploy [--latency-ms 20]

moto answers in microseconds, so an artificial per-call latency (a botocore `before-call` hook
that sleeps, default 20 ms) models network round-trips; the figures say which latency they used.
Macie custom data identifiers are served by the sandbox's Macie emulator (moto lacks them), as in
the tests (tests/aws/aws_account.py).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

from dcp.aws.session import AwsContext  # noqa: E402
from dcp.config import parse_settings  # noqa: E402
from dcp.stack import deploy  # noqa: E402
from tests.aws.aws_account import moto_account  # noqa: E402

READS = ("Describe", "Get", "List", "Head", "BatchGet")
SETTINGS = parse_settings("endpoint: aws\nproject: {prefix: bench}\n")


class Meter:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls = 0
        self.mutating = 0
        self.lock = threading.Lock()

    def before_call(self, model: Any, **kwargs: Any) -> None:
        with self.lock:
            self.calls += 1
            if not model.name.startswith(READS):
                self.mutating += 1
        if self.latency:
            time.sleep(self.latency)

    def reset(self) -> None:
        self.calls = self.mutating = 0


def context(meter: Meter) -> AwsContext:
    ctx = AwsContext.create(region="us-east-1")
    ctx.session.events.register("before-call", meter.before_call)
    return ctx


def timed(meter: Meter, fn: Callable[[], Any]) -> tuple[float, int, int, Any]:
    meter.reset()
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, meter.calls, meter.mutating, value


def warm_up() -> None:
    """Import and initialise moto's backends once, so the first timed run is not charged for it."""
    with moto_account():
        deploy.plan(SETTINGS, context(Meter(0.0)))


def lifecycle(latency: float, workers: int) -> list[tuple[str, float, int, int]]:
    rows = []
    with moto_account():
        meter = Meter(latency)
        deploy.plan(SETTINGS, context(Meter(0.0)))  # backends of this account initialised, untimed
        for label, fn in (
            ("cold up", lambda: deploy.up(SETTINGS, context(meter), workers=workers)),
            ("no-op up", lambda: deploy.up(SETTINGS, context(meter), workers=workers)),
            ("down", lambda: deploy.down(SETTINGS, context(meter), workers=workers)),
        ):
            seconds, calls, mutating, result = timed(meter, fn)
            ok = result.result.ok if hasattr(result, "result") else result.ok
            if not ok:
                raise SystemExit(f"{label} failed: {result.result.failed}")
            rows.append((label, seconds, calls, mutating))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    warm_up()
    print(
        f"dcp deploy benchmark: moto {__import__('moto').__version__} in-process, "
        f"artificial latency {args.latency_ms:.0f} ms per AWS call (before-call hook)"
    )
    print(f"{'run':<12}{'workers':>8}{'seconds':>10}{'API calls':>11}{'mutating':>10}")
    results: dict[int, list[tuple[str, float, int, int]]] = {}
    for workers in (8, 1):
        results[workers] = lifecycle(latency, workers)
        for label, seconds, calls, mutating in results[workers]:
            print(f"{label:<12}{workers:>8}{seconds:>10.2f}{calls:>11}{mutating:>10}")
    for i, label in enumerate(("cold up", "no-op up", "down")):
        serial, parallel = results[1][i][1], results[8][i][1]
        print(f"speed-up of 8 workers over 1 for {label}: {serial / parallel:.1f}x ({serial:.2f}s -> {parallel:.2f}s)")


if __name__ == "__main__":
    main()

"""End-to-end pipeline time and peak memory for growing tables, and the growth exponent.

For each size (rows per table) a fresh sandbox is started on a free port; then `dcp up`,
`dcp seed --rows N`, `dcp scan --wait` run as separate processes against it. Printed per size:
seconds per stage, total, and peak resident memory of the sandbox server and of the dcp
processes. Last line: the log-log slope of total time against rows (1.0 = linear).

    python -m bench.pipeline                      # 10k, 100k, 1M rows per table
    python -m bench.pipeline --sizes 10000,50000
    python -m bench.pipeline --sizes 100000 --cdc 0.001,0.01,0.1   # then CDC rounds

With ``--cdc``, after the full scan each fraction is one CDC round (`dcp seed --update-fraction F`
then `dcp scan --wait`); per round it prints the objects and bytes the Macie job classified
(from `dcp scan --output json`'s scope) and the scan's wall time, beside the full scan's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(ys) against log(xs)."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((x - mx) ** 2 for x in lx)
    return sum((x - mx) * (y - my) for x, y in zip(lx, ly, strict=True)) / den if den else float("nan")


def _run(cmd: list[str], env: dict[str, str], cwd: str, timeout: int) -> tuple[int, str, float]:
    """Run one dcp process; its exit code, output and peak RSS in MB (from wait4's rusage)."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return proc.returncode, out.read().decode("utf-8", "replace"), usage.ru_maxrss / 1024


def _document(out: str) -> dict[str, Any]:
    """The JSON document `--output json` printed (stdout and stderr are mixed in `out`)."""
    decoder = json.JSONDecoder()
    for line_start in [0] + [i + 1 for i, c in enumerate(out) if c == "\n"]:
        if out.startswith("{", line_start):
            try:
                value, _end = decoder.raw_decode(out, line_start)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return {}


def _scan(base: list[str], env: dict[str, str], cwd: str, timeout: int) -> dict[str, float]:
    """One `dcp scan --wait`: seconds, and the objects and bytes its Macie job classified."""
    start = time.perf_counter()
    code, out, _peak = _run([*base, "--output", "json", "scan", "--wait", "--timeout", str(timeout)], env, cwd, timeout)
    seconds = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"`dcp scan --wait` failed: {' | '.join(out.strip().splitlines()[-3:])}")
    scope = _document(out).get("scope") or {}
    return {"seconds": seconds, "objects": float(scope.get("objects", 0)), "bytes": float(scope.get("bytes", 0))}


def run_size(rows: int, timeout: int, cdc: list[float] | None = None) -> dict[str, Any]:
    from dcp.sandbox import control

    with tempfile.TemporaryDirectory(prefix="dcp-bench-") as tmp:
        state = Path(tmp) / ".dcp"
        state.mkdir()
        config = Path(tmp) / "config.yaml"
        config.write_text("project: {prefix: bench}\n")
        sandbox = control.start(state)
        env = {**os.environ, **control.sandbox_credentials()}
        env.pop("DCP_LOCAL", None)
        base = [
            sys.executable,
            "-c",
            "from dcp.cli import main; main()",
            "--config",
            str(config),
            "--endpoint-url",
            str(sandbox.url),
        ]
        times: dict[str, Any] = {}
        try:
            for stage, args in (("up", ["up"]), ("seed", ["seed", "--rows", str(rows)])):
                start = time.perf_counter()
                code, out, peak = _run(base + args, env, tmp, timeout)
                times[stage] = time.perf_counter() - start
                times["cli_mb"] = max(times.get("cli_mb", 0.0), peak)
                if code != 0:
                    tail = out.strip().splitlines()[-3:]
                    raise RuntimeError(f"`dcp {' '.join(args)}` failed at {rows} rows: {' | '.join(tail)}")
            full = _scan(base, env, tmp, timeout)
            times["scan"], times["rounds"] = full["seconds"], [("full", full)]
            for fraction in cdc or []:
                seed = ["seed", "--update-fraction", str(fraction)]
                code, out, _peak = _run(base + seed, env, tmp, timeout)
                if code != 0:
                    raise RuntimeError(f"`dcp {' '.join(seed)}` failed: {out.strip().splitlines()[-1:]}")
                times["rounds"].append((f"cdc {fraction:g}", _scan(base, env, tmp, timeout)))
            times["sandbox_mb"] = peak_rss_mb(int(sandbox.pid or 0))
        finally:
            control.stop(state)
    times["total"] = times["up"] + times["seed"] + times["scan"]
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="dcp pipeline benchmark")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="rows per table, comma-separated")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per stage")
    parser.add_argument("--cdc", default="", help="CDC round fractions after the full scan, e.g. 0.001,0.01,0.1")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(
        f"{'rows/table':>10} {'up s':>7} {'seed s':>8} {'scan s':>8} {'total s':>8} {'sandbox MB':>11} {'cli MB':>7}",
        flush=True,
    )
    totals: list[float] = []
    data_times: list[float] = []
    for rows in sizes:
        t = run_size(rows, args.timeout, [float(f) for f in args.cdc.split(",") if f.strip()])
        totals.append(t["total"])
        data_times.append(t["seed"] + t["scan"])
        print(
            f"{rows:>10} {t['up']:>7.1f} {t['seed']:>8.1f} {t['scan']:>8.1f} {t['total']:>8.1f} "
            f"{t['sandbox_mb']:>11.0f} {t['cli_mb']:>7.0f}",
            flush=True,
        )
        for label, r in t["rounds"] if args.cdc else ():
            print(
                f"{rows:>10} {label:>10}: classified {r['objects']:.0f} object(s), {r['bytes'] / 1e6:.2f} MB; "
                f"scan --wait {r['seconds']:.1f} s ({r['seconds'] / t['scan']:.2f}x the full scan); "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    if len(sizes) >= 2:
        print(f"growth exponent (log-log slope of total time vs rows): {slope(sizes, totals):.2f}")
        print(f"growth exponent of seed + scan (without the fixed `up`): {slope(sizes, data_times):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

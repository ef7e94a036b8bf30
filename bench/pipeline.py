"""End-to-end pipeline time and peak memory for growing tables, and the growth exponent.

For each size (rows per table) a fresh sandbox is started on a free port; then `dcp up`,
`dcp seed --rows N`, `dcp scan --wait` run as separate processes against it. Printed per size:
seconds per stage, total, and peak resident memory of the sandbox server and of the dcp
processes. Last line: the log-log slope of total time against rows (1.0 = linear).

    python -m bench.pipeline                      # 10k, 100k, 1M rows per table
    python -m bench.pipeline --sizes 10000,50000
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def run_size(rows: int, timeout: int) -> dict[str, float]:
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
        times: dict[str, float] = {}
        try:
            for stage, args in (
                ("up", ["up"]),
                ("seed", ["seed", "--rows", str(rows)]),
                ("scan", ["scan", "--wait", "--timeout", str(timeout)]),
            ):
                start = time.perf_counter()
                code, out, peak = _run(base + args, env, tmp, timeout)
                times[stage] = time.perf_counter() - start
                times["cli_mb"] = max(times.get("cli_mb", 0.0), peak)
                if code != 0:
                    tail = out.strip().splitlines()[-3:]
                    raise RuntimeError(f"`dcp {' '.join(args)}` failed at {rows} rows: {' | '.join(tail)}")
            times["sandbox_mb"] = peak_rss_mb(int(sandbox.pid or 0))
        finally:
            control.stop(state)
    times["total"] = times["up"] + times["seed"] + times["scan"]
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="dcp pipeline benchmark")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="rows per table, comma-separated")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per stage")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(
        f"{'rows/table':>10} {'up s':>7} {'seed s':>8} {'scan s':>8} {'total s':>8} {'sandbox MB':>11} {'cli MB':>7}",
        flush=True,
    )
    totals: list[float] = []
    data_times: list[float] = []
    for rows in sizes:
        t = run_size(rows, args.timeout)
        totals.append(t["total"])
        data_times.append(t["seed"] + t["scan"])
        print(
            f"{rows:>10} {t['up']:>7.1f} {t['seed']:>8.1f} {t['scan']:>8.1f} {t['total']:>8.1f} "
            f"{t['sandbox_mb']:>11.0f} {t['cli_mb']:>7.0f}",
            flush=True,
        )
    if len(sizes) >= 2:
        print(f"growth exponent (log-log slope of total time vs rows): {slope(sizes, totals):.2f}")
        print(f"growth exponent of seed + scan (without the fixed `up`): {slope(sizes, data_times):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

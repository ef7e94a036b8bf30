"""Where a `dcp scan --wait` spends its time: the full scan, then CDC rounds, stage by stage.

A fresh sandbox; `dcp up` and `dcp seed --rows N` run as processes, then each scan runs
in-process with the pipeline's stage functions timed (replicate, plan_scan, settle, start_job,
wait_job, job_findings, wait_for_runs). After each scan the workflow run's graph gives every
step's start and end, relative to the Macie job's end (findings -> EventBridge -> Firehose ->
findings bucket -> Lambda -> workflow run).

    python -m bench.scan_stages --rows 50000 --cdc 0.01
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

#: (module, function) of the stages `dcp scan` calls (it imports them when it runs, so patching
#: the module attribute is enough)
STAGES = (
    ("dcp.pipeline.replicate", "replicate"),
    ("dcp.pipeline.scan", "plan_scan"),
    ("dcp.pipeline.scan_scope", "settle"),
    ("dcp.pipeline.scan", "start_job"),
    ("dcp.pipeline.scan", "wait_job"),
    ("dcp.pipeline.scan", "job_findings"),
    ("dcp.pipeline.workflow", "wait_for_runs"),
)


def _timed(log: list[tuple[str, float, float]], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.time()
        try:
            return fn(*args, **kwargs)
        finally:
            log.append((name, start, time.time()))

    return wrapper


def _scan_in_process(base: list[str]) -> tuple[float, list[tuple[str, float, float]], dict[str, Any]]:
    from dcp.cli import main

    log: list[tuple[str, float, float]] = []
    originals = []
    for module_name, attr in STAGES:
        module = importlib.import_module(module_name)
        originals.append((module, attr, getattr(module, attr)))
        setattr(module, attr, _timed(log, attr, getattr(module, attr)))
    out = Path(tempfile.mkstemp(prefix="dcp-scan-")[1])
    start = time.time()
    try:
        saved = os.dup(1)
        with out.open("wb") as sink:
            os.dup2(sink.fileno(), 1)
            try:
                main([*base, "--output", "json", "scan", "--wait"])
            except SystemExit as exc:
                if exc.code not in (0, None):
                    raise RuntimeError(f"dcp scan exited {exc.code}") from None
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
    finally:
        for module, attr, fn in originals:
            setattr(module, attr, fn)
    seconds = time.time() - start
    text = out.read_text()
    out.unlink()
    doc: dict[str, Any] = {}
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                doc = json.loads(text[text.index(line) :])
            except ValueError:
                continue
            break
    return seconds, [(n, s - start, e - start) for n, s, e in log], doc


def _workflow_steps(endpoint: str, workflow: str, since: float) -> list[tuple[str, float, float]]:
    import boto3

    glue = boto3.client("glue", endpoint_url=endpoint)
    out = []
    for run in glue.get_workflow_runs(Name=workflow, IncludeGraph=True).get("Runs", []):
        started = run["StartedOn"].timestamp()
        if started < since:
            continue
        out.append(("workflow run", started - since, (run.get("CompletedOn") or run["StartedOn"]).timestamp() - since))
        for node in run.get("Graph", {}).get("Nodes", []):
            details = (node.get("JobDetails") or {}).get("JobRuns") or (node.get("CrawlerDetails") or {}).get("Crawls")
            for entry in details or []:
                s, e = entry.get("StartedOn"), entry.get("CompletedOn")
                if isinstance(s, datetime) and isinstance(e, datetime):
                    out.append(
                        (f"  {node['Type'].lower()} {node['Name']}", s.timestamp() - since, e.timestamp() - since)
                    )
    return sorted(out, key=lambda t: t[1])


def _print(
    label: str, seconds: float, log: list[tuple[str, float, float]], steps: list[tuple[str, float, float]]
) -> None:
    print(f"--- {label}: scan --wait {seconds:.1f} s (in-process), load average {os.getloadavg()[0]:.1f}")
    for name, s, e in log:
        print(f"{name:>40} {s:7.2f} -> {e:7.2f}  {e - s:6.2f} s")
    for name, s, e in steps:
        print(f"{name:>40} {s:7.2f} -> {e:7.2f}  {e - s:6.2f} s")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    from bench.pipeline import _run
    from dcp.sandbox import control

    parser = argparse.ArgumentParser(description="dcp scan stage split")
    parser.add_argument("--rows", type=int, default=50000)
    parser.add_argument("--cdc", default="0.01")
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--keep", help="run in this (empty) folder and keep it, with the job logs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dcp-stages-") as scratch:
        tmp = args.keep or scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        state = Path(tmp) / ".dcp"
        state.mkdir()
        config = Path(tmp) / "config.yaml"
        config.write_text("project: {prefix: bench}\n")
        sandbox = control.start(state)
        creds = control.sandbox_credentials()
        env = {**os.environ, **creds}
        env.pop("DCP_LOCAL", None)
        os.environ.update(creds)
        os.environ.pop("DCP_LOCAL", None)
        base = ["--config", str(config), "--endpoint-url", str(sandbox.url)]
        cli = [sys.executable, "-c", "from dcp.cli import main; main()", *base]
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            for stage in (["up"], ["seed", "--rows", str(args.rows)]):
                code, out, _ = _run(cli + stage, env, tmp, args.timeout)
                if code:
                    raise RuntimeError(f"dcp {stage}: {out[-500:]}")
            rounds = ["full"] + [f for f in args.cdc.split(",") if f.strip()]
            for label in rounds:
                if label != "full":
                    code, out, _ = _run([*cli, "seed", "--update-fraction", label], env, tmp, args.timeout)
                    if code:
                        raise RuntimeError(f"dcp seed: {out[-500:]}")
                t0 = time.time()
                seconds, log, _doc = _scan_in_process(base)
                steps = _workflow_steps(str(sandbox.url), "bench-workflow", t0)
                _print(label, seconds, log, steps)
        finally:
            os.chdir(cwd)
            control.stop(state)
    return 0


if __name__ == "__main__":
    sys.exit(main())

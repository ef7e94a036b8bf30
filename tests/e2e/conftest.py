"""The e2e harness: a sandbox on a free loopback port per test module, and `dcp` run as a user runs it.

Every `dcp` invocation is a real process (`main()` with its exit codes) talking to the sandbox
through --endpoint-url; everything it prints is kept, so tests can grep it for leaks.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = "from dcp.cli import program; program()"


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Dcp:
    """Runs `dcp --config CFG --endpoint-url URL ...` and remembers every byte it printed."""

    url: str
    config: Path
    workdir: Path
    env: dict[str, str]
    printed: list[Run] = field(default_factory=list)

    def __call__(self, *args: str, ok: bool = True, timeout: float = 600) -> Run:
        done = subprocess.run(
            [sys.executable, "-c", CLI, "--config", str(self.config), "--endpoint-url", self.url, *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        run = Run(tuple(args), done.returncode, done.stdout, done.stderr)
        self.printed.append(run)
        if ok and run.code != 0:
            raise AssertionError(f"dcp {' '.join(args)} exited {run.code}:\n{run.stdout}\n{run.stderr}")
        return run

    def aws(self) -> Any:
        """An AwsContext as the sandbox's admin (the identity `dcp` itself uses)."""
        from dcp.aws.session import AwsContext

        return AwsContext.create(region="us-east-1", endpoint_url=self.url)

    def source_sqlite(self) -> Path:
        """The SQLite file behind the stack's RDS instance: its endpoint name, resolved through the
        sandbox's name table (`<state>/rds/endpoints.json`) as the seed Lambda and DMS resolve it."""
        from dcp.lambdas.dburl import resolve_host
        from dcp.sandbox.emulators.rds.models import endpoints_path

        (instance,) = self.aws().client("rds").describe_db_instances()["DBInstances"]
        table = json.loads(endpoints_path(self.workdir / ".dcp").read_text(encoding="utf-8"))
        return Path(resolve_host({"host": instance["Endpoint"]["Address"]}, table)["host"])

    def names(self) -> Any:
        from dcp.config import load_settings
        from dcp.names import StackNames

        aws = self.aws()
        return StackNames.of(load_settings(self.config), aws.account_id, aws.region)


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_server(host: str, port: int, what: str) -> None:
    """In CI an unreachable database fails the test; on a workstation it skips it."""
    if reachable(host, port):
        return
    message = f"{what} is not reachable at {host}:{port}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def sandbox_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Start sandboxes (stopped at module end): factory(prefix, source_url=None, engine="mysql") -> Dcp."""
    from dcp.sandbox import control

    started: list[Path] = []

    def make(prefix: str, source_url: str | None = None, engine: str = "mysql") -> Dcp:
        workdir = tmp_path_factory.mktemp(prefix)
        state = workdir / ".dcp"
        state.mkdir()
        config = workdir / "config.yaml"
        config.write_text(f"project: {{prefix: {prefix}}}\nsource: {{engine: {engine}}}\n")
        status = control.start(state, source_url=source_url, timeout=90)  # slow under load
        started.append(state)
        env = {**os.environ, **control.sandbox_credentials(), "PYTHONPATH": str(ROOT)}
        for key in ("DCP_LOCAL", "AWS_ENDPOINT_URL", "AWS_PROFILE", "DCP_CONFIG"):
            env.pop(key, None)
        env.setdefault("AWS_REGION", "us-east-1")
        os.environ.update(control.sandbox_credentials())
        assert status.url
        return Dcp(status.url, config, workdir, env)

    yield make
    for state in started:
        with contextlib.suppress(control.SandboxError):
            control.stop(state)


def ids_everywhere(dcp: Dcp, table: str) -> dict[str, set[str]]:
    """The primary keys of `table` in the raw (CDC applied), masked and encrypted zones."""
    from dcp.pipeline.demo import masked_rows
    from dcp.pipeline.lake import raw_current_ids, read_parquet_prefix

    aws, names = dcp.aws(), dcp.names()
    encrypted = read_parquet_prefix(aws, names.curated_bucket, names.encrypted_prefix(table))
    return {
        "raw": raw_current_ids(aws, names.raw_bucket, names.raw_prefix(table)),
        "masked": {str(i) for i in masked_rows(aws, names, table)},
        "encrypted": {str(i) for i in encrypted.column("id").to_pylist()} if encrypted is not None else set(),
    }

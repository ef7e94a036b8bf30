"""`dcp sandbox start|stop|status|logs` from any folder: one clear line per failure, no strays."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcp.sandbox import control

pytestmark = pytest.mark.slow

DCP = str(Path(sys.executable).with_name("dcp"))


def dcp(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "DCP_LOCAL", "DCP_CONFIG")}
    env["COLUMNS"] = "250"  # one message, one line
    return subprocess.run([DCP, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=60)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def server_pids(folder: Path) -> set[int]:
    """Sandbox servers whose state lives in `folder` (other tests may run their own)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or not control.is_sandbox_process(int(proc.name)):
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(folder) in cmdline:
            pids.add(int(proc.name))
    return pids


@pytest.fixture()
def folder(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    if (tmp_path / ".dcp" / "sandbox.json").exists():
        with contextlib.suppress(control.SandboxError):
            control.stop(tmp_path / ".dcp")


def test_start_status_stop_and_the_failures(folder: Path) -> None:
    started = dcp(folder, "--output", "json", "sandbox", "start")
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    assert info["running"] and info["url"].startswith("http://127.0.0.1:")
    state = json.loads((folder / ".dcp" / "sandbox.json").read_text())
    assert state["pid"] == info["pid"] and control.is_sandbox_process(info["pid"])
    assert control.health(info["url"]) is not None

    again = dcp(folder, "sandbox", "start")
    line = one_error_line(again)
    assert "already running" in line and info["url"] in line
    assert server_pids(folder) == {info["pid"]}  # no second server

    status = dcp(folder, "--output", "json", "sandbox", "status")
    assert status.returncode == 0 and json.loads(status.stdout)["pid"] == info["pid"]
    logs = dcp(folder, "sandbox", "logs", "-n", "5")
    assert logs.returncode == 0 and logs.stdout.strip()

    stopped = dcp(folder, "sandbox", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not control.is_sandbox_process(info["pid"])
    assert not (folder / ".dcp" / "sandbox.json").exists()

    assert "not running" in one_error_line(dcp(folder, "sandbox", "stop"))
    assert "not running" in one_error_line(dcp(folder, "sandbox", "status"))
    assert server_pids(folder) == set()


def test_a_taken_port_is_one_line_and_leaves_nothing_behind(folder: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_error_line(dcp(folder, "sandbox", "start", "--port", str(port)))
    assert f"port {port}" in line and "in use" in line
    assert server_pids(folder) == set()
    assert not (folder / ".dcp" / "sandbox.json").exists()


def test_stop_refuses_a_pid_that_is_not_our_server(folder: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (folder / ".dcp").mkdir()
        (folder / ".dcp" / "sandbox.json").write_text(json.dumps({"pid": sleeper.pid, "port": 1, "url": "x"}))
        line = one_error_line(dcp(folder, "sandbox", "stop"))
        assert "not running" in line
        assert sleeper.poll() is None  # not killed
        assert not (folder / ".dcp" / "sandbox.json").exists()  # stale state removed
    finally:
        sleeper.kill()
        sleeper.wait()


def test_ensure_running_starts_once_and_reuses(folder: Path) -> None:
    state_dir = folder / ".dcp"
    url = control.ensure_running(state_dir)
    try:
        assert control.ensure_running(state_dir) == url
        assert control.status(state_dir).running
        env = control.sandbox_credentials()
        assert env["AWS_ACCESS_KEY_ID"] == "testing"
    finally:
        control.stop(state_dir)
    assert not control.status(state_dir).running

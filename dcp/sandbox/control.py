"""Start, find, check and stop the sandbox server process of a folder's `.dcp/`.

The server writes `.dcp/sandbox.json` (pid, port, url) itself once it listens; this module
trusts that file only after checking that the pid is alive, that its command line is our
server's, and that `/_dcp/health` answers with that pid. `stop` signals only such a process.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcp.sandbox.identity import ADMIN_ACCESS_KEY

if TYPE_CHECKING:
    from dcp.console import Console

STATE_FILE = "sandbox.json"  # also written by dcp.sandbox.server
LOG_FILE = "sandbox.log"
LOCK_FILE = "sandbox.lock"
SERVER_MODULE = "dcp.sandbox.server"
EXIT_PORT_IN_USE = 3  # dcp.sandbox.server's exit code when it cannot bind
START_TIMEOUT = 60.0  # importing moto, DuckDB and Arrow takes ~20 s on a loaded 2-core machine
STOP_TIMEOUT = 10.0
DEFAULT_REGION = "us-east-1"


class SandboxError(Exception):
    """A sandbox control failure, with a one-line message a person can act on."""


#: Top-level modules of the `sandbox` extra (moto[server] brings flask); `pip install dcp` alone lacks them.
EXTRA_MODULES = ("moto", "flask", "duckdb", "sqlglot")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require_extra() -> None:
    """SandboxError unless the `sandbox` extra is installed (checked without importing it)."""
    missing = [module for module in EXTRA_MODULES if not _installed(module)]
    if missing:
        raise SandboxError(
            f"the local sandbox needs {', '.join(missing)}, which this install lacks: pip install 'dcp[sandbox]'"
        )


@dataclass(frozen=True)
class SandboxStatus:
    """What `dcp sandbox status` reports."""

    running: bool
    state_dir: Path
    pid: int | None = None
    port: int | None = None
    url: str | None = None
    started_at: str | None = None

    @property
    def log_path(self) -> Path:
        return self.state_dir / LOG_FILE

    def to_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "url": self.url,
            "pid": self.pid,
            "port": self.port,
            "started_at": self.started_at,
            "state_dir": str(self.state_dir),
            "log": str(self.log_path),
        }


def sandbox_credentials() -> dict[str, str]:
    """Environment for clients of the sandbox: its admin's (fake) keys, and a region if unset."""
    env = {"AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": ADMIN_ACCESS_KEY}
    if not os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
        env["AWS_REGION"] = DEFAULT_REGION
        env["AWS_DEFAULT_REGION"] = DEFAULT_REGION
    return env


# ---- process checks
def _cmdline(pid: int) -> str | None:
    """The command line of `pid`, or None if it is gone (zombies count as gone)."""
    proc = Path(f"/proc/{pid}")
    if proc.exists():
        try:
            raw = (proc / "cmdline").read_bytes()
        except OSError:
            return None
        return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip() or None
    try:  # no /proc (macOS): ask ps
        out = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def is_sandbox_process(pid: int, state_dir: Path | None = None) -> bool:
    """Whether `pid` is alive and runs `python -m dcp.sandbox.server` (for `state_dir`, if given)."""
    cmdline = _cmdline(pid)
    if not cmdline or SERVER_MODULE not in cmdline:
        return False
    return state_dir is None or f"--state-dir {Path(state_dir).resolve()}" in cmdline


def health(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The sandbox's health document, or None if nothing (or something else) answers at `url`."""
    try:
        with urllib.request.urlopen(f"{url}/_dcp/health", timeout=timeout) as response:
            document = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    if not isinstance(document, dict) or document.get("server") != "dcp-sandbox":
        return None
    return document


def _read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def status(state_dir: Path) -> SandboxStatus:
    """Whether this folder's sandbox runs; a state file left by a dead server is removed."""
    state_dir = Path(state_dir)
    state = _read_state(state_dir)
    if state is None:
        return SandboxStatus(running=False, state_dir=state_dir)
    pid = int(state.get("pid", 0))
    url = str(state.get("url", ""))
    ours = bool(pid) and is_sandbox_process(pid, state_dir)
    document = health(url) if ours else None
    if document is None or document.get("pid") != pid:
        if not ours:
            with contextlib.suppress(OSError):
                (state_dir / STATE_FILE).unlink()
        return SandboxStatus(running=False, state_dir=state_dir)
    return SandboxStatus(
        running=True,
        state_dir=state_dir,
        pid=pid,
        port=int(state["port"]),
        url=url,
        started_at=state.get("started_at"),
    )


@contextlib.contextmanager
def _start_lock(state_dir: Path) -> Iterator[None]:
    """Serialise starts of one folder's sandbox (two commands may ask for it at once)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_taken_message(port: int) -> str:
    return f"port {port} on 127.0.0.1 is already in use: choose another with --port, or omit --port to pick a free one"


def start(
    state_dir: Path, *, port: int = 0, source_url: str | None = None, timeout: float = START_TIMEOUT
) -> SandboxStatus:
    """Spawn the server detached and wait until it answers; SandboxError if it cannot."""
    state_dir = Path(state_dir).resolve()
    with _start_lock(state_dir):
        current = status(state_dir)
        if current.running:
            raise SandboxError(
                f"the sandbox is already running at {current.url} (pid {current.pid}); "
                "stop it first with `dcp sandbox stop`"
            )
        return _spawn(state_dir, port=port, source_url=source_url, timeout=timeout)


def _spawn(state_dir: Path, *, port: int, source_url: str | None, timeout: float) -> SandboxStatus:
    require_extra()
    if port and not _port_free(port):
        raise SandboxError(_port_taken_message(port))
    env = dict(os.environ)
    env.pop("AWS_ENDPOINT_URL", None)
    if source_url:
        env["DCP_SANDBOX_SOURCE_URL"] = source_url
    env["PYTHONUNBUFFERED"] = "1"
    log_path = state_dir / LOG_FILE
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", SERVER_MODULE, "--port", str(port), "--state-dir", str(state_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            if code == EXIT_PORT_IN_USE:
                raise SandboxError(_port_taken_message(port))
            raise SandboxError(f"the sandbox exited during start (exit code {code}): see {log_path}")
        state = _read_state(state_dir)
        if state and state.get("pid") == proc.pid:
            document = health(str(state["url"]), timeout=1.0)
            if document is not None and document.get("pid") == proc.pid:
                return SandboxStatus(
                    running=True,
                    state_dir=state_dir,
                    pid=proc.pid,
                    port=int(state["port"]),
                    url=str(state["url"]),
                    started_at=state.get("started_at"),
                )
        time.sleep(0.1)
    proc.kill()
    proc.wait(timeout=5)
    raise SandboxError(f"the sandbox did not answer within {timeout:.0f} s: see {log_path}")


def stop(state_dir: Path, timeout: float = STOP_TIMEOUT) -> SandboxStatus:
    """Stop this folder's sandbox (SIGTERM, then SIGKILL after `timeout`); what was stopped."""
    state_dir = Path(state_dir).resolve()
    state = _read_state(state_dir)
    if state is None:
        raise SandboxError(f"the sandbox is not running (no {state_dir / STATE_FILE})")
    pid = int(state.get("pid", 0))
    if not pid or not is_sandbox_process(pid, state_dir):
        with contextlib.suppress(OSError):
            (state_dir / STATE_FILE).unlink()
        raise SandboxError(f"the sandbox is not running (pid {pid} is gone; removed its stale state file)")
    stopped = SandboxStatus(
        running=False,
        state_dir=state_dir,
        pid=pid,
        port=state.get("port"),
        url=state.get("url"),
        started_at=state.get("started_at"),
    )
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_sandbox_process(pid, state_dir):
        _reap(pid)
        time.sleep(0.05)
    if is_sandbox_process(pid, state_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
    with contextlib.suppress(OSError):
        if (_read_state(state_dir) or {}).get("pid") == pid:
            (state_dir / STATE_FILE).unlink()
    return stopped


def _reap(pid: int) -> None:
    """Collect the exit status if the server is our own child (else it stays a zombie)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def ensure_running(
    state_dir: Path, console: Console | None = None, *, port: int = 0, source_url: str | None = None
) -> str:
    """The URL of this folder's sandbox, starting it first if it does not run."""
    state_dir = Path(state_dir).resolve()
    current = status(state_dir)
    if current.running and current.url:
        return current.url
    with _start_lock(state_dir):
        current = status(state_dir)
        if current.running and current.url:
            return current.url
        source = source_url or os.environ.get("DCP_SANDBOX_SOURCE_URL")
        started = _spawn(state_dir, port=port, source_url=source, timeout=START_TIMEOUT)
    if console is not None:
        console.info(f"sandbox started at {started.url} (pid {started.pid}; `dcp sandbox stop` ends it)")
    assert started.url is not None
    return started.url


def read_log(state_dir: Path, lines: int = 50) -> list[str]:
    """The last `lines` lines of the sandbox log."""
    path = Path(state_dir) / LOG_FILE
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            content = handle.readlines()
    except OSError as exc:
        raise SandboxError(f"no sandbox log at {path}: start the sandbox with `dcp sandbox start`") from exc
    return [line.rstrip("\n") for line in content[-lines:]] if lines > 0 else []

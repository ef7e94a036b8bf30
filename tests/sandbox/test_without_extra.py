"""`pip install dcp` without the `sandbox` extra: AWS commands never import it, sandbox ones say how to get it.

Each command runs in a fresh interpreter in which the extra's modules cannot be imported
(`sys.modules[name] = None`, as if not installed); the interpreter reports at exit which heavy
modules it loaded. SQLAlchemy stays installed (the seed Lambda's zip ships it) but must not be
imported by these commands either.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandbox_fixture import ADMIN, SandboxServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXTRA = ("moto", "flask", "duckdb", "sqlglot")
HEAVY = (*EXTRA, "sqlalchemy", "werkzeug")

# Runs `dcp <args>` with the extra blocked; prints the heavy modules loaded as the last stdout line.
WRAPPER = """
import json, sys
for name in {extra!r}:
    sys.modules[name] = None
sys.argv = ["dcp", *sys.argv[1:]]
from dcp.cli import main

try:
    main()
finally:
    loaded = sorted(n for n in sys.modules if n.split(".")[0] in {heavy!r} and sys.modules[n] is not None)
    print("\\nLOADED " + json.dumps(loaded))
"""


def run_without_extra(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str, list[str]]:
    code = WRAPPER.format(extra=EXTRA, heavy=HEAVY)
    base = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "DCP_LOCAL", "DCP_CONFIG")}
    base["COLUMNS"] = "250"
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    out, _, last = result.stdout.rstrip().rpartition("\n")
    assert last.startswith("LOADED "), result.stdout + result.stderr
    return result.returncode, out, result.stderr, json.loads(last.removeprefix("LOADED "))


def test_help_loads_nothing_of_the_extra(tmp_path: Path) -> None:
    code, out, err, loaded = run_without_extra(tmp_path, "--help")
    assert code == 0, err
    assert "sandbox" in out and "plan" in out
    assert loaded == []


def test_plan_against_an_endpoint_loads_nothing_of_the_extra(tmp_path: Path, sandbox_server: SandboxServer) -> None:
    """An explicit endpoint (here the sandbox, in its own process) takes the same path as AWS."""
    env = {
        "AWS_ACCESS_KEY_ID": ADMIN["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": ADMIN["aws_secret_access_key"],
        "AWS_REGION": "us-east-1",
    }
    code, out, err, loaded = run_without_extra(
        tmp_path, "--config", str(ROOT / "config.yaml"), "--endpoint-url", sandbox_server.url, "plan", env=env
    )
    assert code == 0, err
    assert "create" in out.lower()
    assert loaded == []


@pytest.mark.parametrize(
    "args", [("sandbox", "start"), ("sandbox", "status", "--unsupported"), ("--local", "plan"), ("demo",)]
)
def test_a_sandbox_command_says_how_to_install_the_extra(tmp_path: Path, args: tuple[str, ...]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text((ROOT / "config.yaml").read_text())
    code, _, err, loaded = run_without_extra(tmp_path, "--config", str(config), *args)
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "pip install 'dcp[sandbox]'" in lines[0]
    assert "Traceback" not in err
    assert loaded == []
    assert not (tmp_path / ".dcp" / "sandbox.json").exists()

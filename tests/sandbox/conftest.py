"""Sandbox tests share one real sandbox server (see tests/sandbox_fixture.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox_fixture import SandboxServer, sandbox_server  # noqa: F401

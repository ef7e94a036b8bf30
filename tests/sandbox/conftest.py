"""Sandbox tests share one real sandbox server (see tests/sandbox_fixture.py)."""

from tests.sandbox_fixture import SandboxServer, sandbox_server  # noqa: F401

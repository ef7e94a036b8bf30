"""Every module of dcp imports: mypy's ignore_missing_imports would hide a stale import path after a move."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import dcp

MODULES = sorted(m.name for m in pkgutil.walk_packages(dcp.__path__, "dcp.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name: str) -> None:
    importlib.import_module(name)

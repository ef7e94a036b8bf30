"""Suite-wide markers: every test under a folder that starts servers (sandbox, e2e, clients, Spark) is slow.

Per-file `pytestmark`s remain for slow tests elsewhere; this hook keeps a new file in those folders out of
`make unit` even when its author forgets the marker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SLOW_FOLDERS = frozenset({"sandbox", "e2e", "clients", "spark"})
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(item.path).relative_to(HERE).parts
        if parts and parts[0] in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)

"""The stack `build_stack` declares for config.yaml, compared with a committed snapshot.

Every resource's logical and physical name, kind, dependencies and desired properties, in order,
against a moto account (IDs not created yet read as pending). Code hashes (the Glue library, the
Lambda zips) depend on the source tree and are masked. After an intended change to the stack,
regenerate the snapshot: DCP_UPDATE_STACK_SNAPSHOT=1 pytest tests/aws/test_stack_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dcp.config import load_settings
from dcp.stack.build import build_stack
from tests.aws.aws_account import Env

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).with_name("stack_snapshot.json")
#: Properties whose value is a hash of dcp's own code, not a property of the stack.
CODE_HASHES = ("sha256", "code_sha256")


def _plain(value: Any) -> Any:
    """JSON-ready: tuples as lists, sets sorted, keys as strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    return value


def stack_snapshot(env: Env) -> list[dict[str, Any]]:
    stack = build_stack(load_settings(ROOT / "config.yaml"), env.ctx)
    out = []
    for resource in stack.resources:
        desired = dict(resource.desired())
        for key in CODE_HASHES:
            if key in desired:
                desired[key] = "<code hash>"
        out.append(
            {
                "logical": resource.logical,
                "physical": resource.physical,
                "kind": resource.kind,
                "depends_on": list(resource.depends_on),
                "desired": _plain(desired),
            }
        )
    return out


def test_stack_for_config_yaml_is_unchanged(aws_env: Env) -> None:
    current = stack_snapshot(aws_env)
    if os.environ.get("DCP_UPDATE_STACK_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert [r["logical"] for r in current] == [r["logical"] for r in expected]
    for got, want in zip(current, expected, strict=True):
        assert got == want, got["logical"]

"""`dcp demo` runs to the end on a sandbox, prints the persona table, and never prints flagged plaintext."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROWS, SEED = 60, 42


def test_demo_runs_end_to_end_without_printing_plaintext(sandbox_factory: Any) -> None:
    from dcp.masking.sample_data import EXPECTED_TYPES
    from dcp.pipeline.seed import generate

    dcp = sandbox_factory("demo")
    start = time.monotonic()
    run = dcp("demo", "--rows", str(ROWS), "--seed", str(SEED), timeout=300, ok=False)
    elapsed = time.monotonic() - start
    assert elapsed < 300
    out = run.output
    # The demo ends with `dcp audit`, which exits 1 on any difference from the intended matrix.
    assert run.code == 0, (run.stderr[-2000:], out[-3000:])
    assert "What each persona can do (dcp audit)" in out or "dcp audit" in out
    assert "persona" in out and "ml-training" in out
    assert "all equal to the source" in out
    assert "data-scientist decrypting card: no" in out
    secrets: set[str] = set()
    for table, columns in EXPECTED_TYPES.items():
        if table not in ("customer", "bank", "card"):
            continue
        data = generate(table, ROWS, SEED)
        for column in columns:
            secrets.update(str(v) for v in data.column(column) if v is not None and len(str(v)) >= 6)
    assert len(secrets) > 50
    leaked = sorted(s for s in secrets if s in out)
    assert not leaked, f"the demo printed {len(leaked)} plaintext value(s) of flagged columns"

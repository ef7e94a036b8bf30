"""examples/train.py learns the card provider from decrypted card numbers (pure numpy)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from dcp.pipeline.seed import generate

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "train.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dcp_example_train", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_model_beats_the_majority_baseline_by_far() -> None:
    data = generate("card", 1500, 11)
    metrics = _example().train_on(data.column("card_number"), data.column("provider"))
    assert metrics.rows == 1500 and metrics.test_rows == 300
    assert metrics.accuracy > 0.9 > metrics.baseline + 0.5

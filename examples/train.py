"""Train a tiny model on decrypted data without ever printing it: the ml-training path.

The encrypted copy of `card` is read and decrypted as the ml-training role (the only role the
KMS key policy lets decrypt); a softmax regression in pure numpy learns the card provider from
the decrypted card number's leading digits and length. Only metrics are printed.

    python examples/train.py --local            # the sandbox of ./.dcp (after `dcp demo --keep`)
    python examples/train.py --endpoint-url http://127.0.0.1:4566 --config config.yaml
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

PREFIX_DIGITS = 6
LENGTHS = tuple(range(12, 20))


def features(card_numbers: list[str]) -> np.ndarray:
    """One-hot leading digits and one-hot length: 6 x 10 + 8 columns."""
    x = np.zeros((len(card_numbers), PREFIX_DIGITS * 10 + len(LENGTHS)), dtype=np.float32)
    for row, number in enumerate(card_numbers):
        digits = "".join(ch for ch in number if ch.isdigit())
        for pos, ch in enumerate(digits[:PREFIX_DIGITS]):
            x[row, pos * 10 + int(ch)] = 1.0
        if len(digits) in LENGTHS:
            x[row, PREFIX_DIGITS * 10 + LENGTHS.index(len(digits))] = 1.0
    return x


@dataclass
class SoftmaxRegression:
    """Multinomial logistic regression trained by full-batch gradient descent."""

    epochs: int = 300
    rate: float = 0.5
    l2: float = 1e-4

    def fit(self, x: np.ndarray, y: np.ndarray, classes: int) -> SoftmaxRegression:
        rng = np.random.default_rng(0)
        self.w = rng.normal(0, 0.01, (x.shape[1], classes)).astype(np.float32)
        self.b = np.zeros(classes, dtype=np.float32)
        onehot = np.eye(classes, dtype=np.float32)[y]
        for _ in range(self.epochs):
            p = self._proba(x)
            grad = (p - onehot) / len(x)
            self.w -= self.rate * (x.T @ grad + self.l2 * self.w)
            self.b -= self.rate * grad.sum(axis=0)
        return self

    def _proba(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.w + self.b
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._proba(x).argmax(axis=1)


@dataclass(frozen=True)
class Metrics:
    rows: int
    classes: int
    train_rows: int
    test_rows: int
    accuracy: float
    baseline: float


def train_on(card_numbers: list[str], providers: list[str], seed: int = 0) -> Metrics:
    """Fit on 80%, score on 20%; the majority class is the baseline."""
    labels = sorted(set(providers))
    y = np.array([labels.index(p) for p in providers])
    x = features(card_numbers)
    order = np.random.default_rng(seed).permutation(len(y))
    cut = max(1, int(len(y) * 0.8))
    train, test = order[:cut], order[cut:] if cut < len(y) else order[:1]
    model = SoftmaxRegression().fit(x[train], y[train], len(labels))
    accuracy = float((model.predict(x[test]) == y[test]).mean())
    baseline = float((y[test] == np.bincount(y[train]).argmax()).mean())
    return Metrics(len(y), len(labels), len(train), len(test), accuracy, baseline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None)
    parser.add_argument("--endpoint-url", default=None)
    parser.add_argument("--local", action="store_true")
    parser.add_argument("--persona", default="ml-training")
    args = parser.parse_args(argv)

    from dcp.cli import App
    from dcp.names import StackNames
    from dcp.pipeline.errors import PipelineError
    from dcp.pipeline.reveal import reveal_as

    app = App(args.config, None, None, args.endpoint_url, "table", True, False, args.local)
    names = StackNames.of(app.settings, app.aws.account_id, app.aws.region)
    try:
        revealed = reveal_as(app.aws, names, names.persona_role_arn(args.persona), "card")
    except PipelineError as exc:
        app.console.error(str(exc))
        return 1
    data = revealed.data
    metrics = train_on(
        [str(v) for v in data.column("card_number").to_pylist()],
        [str(v) for v in data.column("provider").to_pylist()],
    )
    app.console.table(
        f"provider from card number, trained as {args.persona} on decrypted data (values never printed)",
        ["rows", "classes", "train_rows", "test_rows", "accuracy", "baseline"],
        [
            {
                "rows": metrics.rows,
                "classes": metrics.classes,
                "train_rows": metrics.train_rows,
                "test_rows": metrics.test_rows,
                "accuracy": f"{metrics.accuracy:.3f}",
                "baseline": f"{metrics.baseline:.3f}",
            }
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

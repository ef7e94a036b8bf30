"""The one-line failures a pipeline stage reports (exit code 1, mapped in dcp.cli)."""

from __future__ import annotations

from dcp.errors import Failure


class PipelineError(Failure):
    """A stage could not finish; the message is one line a person can act on."""


class StageTimeout(PipelineError):
    """A stage did not reach its end state before its deadline."""

    def __init__(self, what: str, seconds: float, last_state: str = "") -> None:
        detail = f" (last state: {last_state})" if last_state else ""
        super().__init__(f"{what} did not finish within {seconds:.0f}s{detail}; retry or raise --timeout")


class AccessRefused(PipelineError):
    """AWS refused the persona (Lake Formation, Athena or KMS); nothing was printed."""

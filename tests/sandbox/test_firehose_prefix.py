"""Firehose's S3 key prefix rules."""

from __future__ import annotations

from datetime import UTC, datetime

from dcp.sandbox.emulators.firehose.models import evaluate_prefix

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_default_and_plain_prefixes_get_the_hour_layout() -> None:
    assert evaluate_prefix("", WHEN) == "2026/03/04/05/"
    assert evaluate_prefix("findings/", WHEN) == "findings/2026/03/04/05/"


def test_timestamp_expressions_replace_the_default_layout() -> None:
    assert evaluate_prefix("f/dt=!{timestamp:yyyy'-'MM'-'dd}/h=!{timestamp:HH}/", WHEN) == "f/dt=2026-03-04/h=05/"
    random_part = evaluate_prefix("f/!{timestamp:yyyy}/!{firehose:random-string}/", WHEN)
    assert random_part.startswith("f/2026/") and len(random_part.split("/")[2]) == 11

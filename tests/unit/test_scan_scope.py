"""The incremental scan's pieces that need no AWS: the fingerprint, the scope term, the settling wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dcp.config import MacieSettings
from dcp.masking.identifiers import CustomIdentifier
from dcp.pipeline.scan_scope import (
    RawObject,
    ScanScope,
    identifier_fingerprint,
    settle,
    tail_digest,
    tail_start,
    with_tail,
)


def test_the_fingerprint_follows_every_identifier_setting() -> None:
    base = MacieSettings()
    same = identifier_fingerprint(base, ["NAME", "EMAIL_ADDRESS"])
    assert same == identifier_fingerprint(base, ["EMAIL_ADDRESS", "NAME"])
    regex = base.model_copy(
        update={"custom_identifiers": (CustomIdentifier(name="account_number", regex=r"XYZ-\d{4}"),)}
    )
    changed = {
        identifier_fingerprint(base, ["NAME"]),
        identifier_fingerprint(
            base.model_copy(update={"managed_identifier_selection": "ALL"}), ["NAME", "EMAIL_ADDRESS"]
        ),
        identifier_fingerprint(regex, ["NAME", "EMAIL_ADDRESS"]),
    }
    assert same not in changed and len(changed) == 3


def _term(op: str, value: str) -> dict[str, object]:
    return {"simpleScopeTerm": {"comparator": op, "key": "OBJECT_LAST_MODIFIED_DATE", "values": [value]}}


def test_an_incremental_scope_is_gte_since_and_lt_until_in_whole_utc_seconds() -> None:
    since = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    until = since + timedelta(minutes=1)
    scope = ScanScope(False, "", "abc", since, [RawObject("k", 3 * 1024**3, since)], until=until, tail="t")
    assert scope.scoping() == {
        "includes": {"and": [_term("GTE", "2024-05-06T07:08:09Z"), _term("LT", "2024-05-06T07:09:09Z")]}
    }
    assert scope.tags() == {
        "dcp:identifiers": "abc",
        "dcp:scope": "2024-05-06T07:08:09Z",
        "dcp:until": "2024-05-06T07:09:09Z",
        "dcp:tail": "t",
    }
    assert scope.estimated_cost(1.0) == 3.0
    assert ScanScope(True, "", "abc").scoping() is None
    full = ScanScope(True, "", "abc", until=until)
    assert full.scoping() == {"includes": {"and": [_term("LT", "2024-05-06T07:09:09Z")]}}


def test_the_tail_digest_changes_when_an_object_arrives_late_in_the_tail_only() -> None:
    until = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    start = tail_start(until, 10, None)
    assert start == until - timedelta(seconds=20)
    assert tail_start(until, 10, until - timedelta(seconds=5)) == until - timedelta(seconds=5)
    seen = [RawObject("a", 1, until - timedelta(seconds=3)), RawObject("old", 1, until - timedelta(hours=1))]
    digest = tail_digest(seen, start, until)
    later = [*seen, RawObject("next-round", 1, until), RawObject("older", 1, until - timedelta(minutes=5))]
    assert tail_digest(later, start, until) == digest  # outside the tail: not its business
    late = [*seen, RawObject("late", 1, until - timedelta(seconds=1))]
    assert tail_digest(late, start, until) != digest
    scope = with_tail(ScanScope(True, "", "f", until=until), seen, 10)
    assert scope.tail == digest


def test_a_job_starts_once_the_clock_passed_the_second_after_the_newest_object() -> None:
    waited: list[float] = []
    now = datetime.now(UTC)
    fresh = ScanScope(False, "", "f", newest=now, until=now.replace(microsecond=0) + timedelta(seconds=1))
    assert 0 < settle(fresh, sleep=waited.append) <= 1.5 and waited
    old = ScanScope(False, "", "f", newest=now - timedelta(minutes=5), until=now - timedelta(minutes=5))
    assert settle(old, sleep=waited.append) == 0.0 and len(waited) == 1


def test_the_scan_keys_load_from_config_and_refuse_nonsense() -> None:
    import pytest

    from dcp.config import ConfigError, default_settings, parse_settings

    assert default_settings().macie.scan_price_per_gb == 1.0 and default_settings().macie.scan_overlap_seconds == 10
    loaded = parse_settings("macie: {scan_price_per_gb: 0.5, scan_overlap_seconds: 30}\n", "c.yaml").macie
    assert (loaded.scan_price_per_gb, loaded.scan_overlap_seconds) == (0.5, 30)
    for bad in ("scan_price_per_gb: cheap", "scan_price_per_gb: -1", "scan_overlap_seconds: 1.5"):
        with pytest.raises(ConfigError):
            parse_settings(f"macie: {{{bad}}}\n", "c.yaml")


def test_the_next_job_starts_at_until_or_at_the_tail_when_it_changed() -> None:
    from dcp.pipeline.scan_scope import _since

    until = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    seen = [RawObject("a", 1, until - timedelta(seconds=3))]
    tags = {
        "dcp:scope": "full",
        "dcp:until": "2024-05-06T07:08:09Z",
        "dcp:tail": tail_digest(seen, until - timedelta(seconds=20), until),
    }
    assert _since({}, tags, [*seen, RawObject("new", 1, until)], 10)[0] == until
    late = [*seen, RawObject("late", 1, until - timedelta(seconds=2))]
    assert _since({}, tags, late, 10)[0] == until - timedelta(seconds=20)
    older = {"createdAt": until}
    assert _since(older, {}, seen, 10)[0] == until - timedelta(seconds=10)

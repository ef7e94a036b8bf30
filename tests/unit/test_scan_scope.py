"""The incremental scan's pieces that need no AWS: the fingerprint, the scope term, the settling wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dcp.config import MacieSettings
from dcp.masking.identifiers import CustomIdentifier
from dcp.pipeline.scan_scope import RawObject, ScanScope, identifier_fingerprint, settle


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


def test_an_incremental_scope_is_one_gte_term_in_whole_utc_seconds() -> None:
    since = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    scope = ScanScope(False, "", "abc", since, [RawObject("k", 3 * 1024**3, since)])
    assert scope.scoping() == {
        "includes": {
            "and": [
                {
                    "simpleScopeTerm": {
                        "comparator": "GTE",
                        "key": "OBJECT_LAST_MODIFIED_DATE",
                        "values": ["2024-05-06T07:08:09Z"],
                    }
                }
            ]
        }
    }
    assert scope.tags() == {"dcp:identifiers": "abc", "dcp:scope": "2024-05-06T07:08:09Z"}
    assert scope.estimated_cost(1.0) == 3.0
    assert ScanScope(True, "", "abc").scoping() is None


def test_a_job_starts_only_once_the_newest_object_is_older_than_the_overlap() -> None:
    waited: list[float] = []
    fresh = ScanScope(False, "", "f", newest=datetime.now(UTC).replace(microsecond=0))
    assert 10 < settle(fresh, 10, sleep=waited.append) <= 11.5 and waited
    old = ScanScope(False, "", "f", newest=datetime.now(UTC) - timedelta(minutes=5))
    assert settle(old, 10, sleep=waited.append) == 0.0 and len(waited) == 1


def test_the_scan_keys_load_from_config_and_refuse_nonsense() -> None:
    import pytest

    from dcp.config import ConfigError, default_settings, parse_settings

    assert default_settings().macie.scan_price_per_gb == 1.0 and default_settings().macie.scan_overlap_seconds == 10
    loaded = parse_settings("macie: {scan_price_per_gb: 0.5, scan_overlap_seconds: 30}\n", "c.yaml").macie
    assert (loaded.scan_price_per_gb, loaded.scan_overlap_seconds) == (0.5, 30)
    for bad in ("scan_price_per_gb: cheap", "scan_price_per_gb: -1", "scan_overlap_seconds: 1.5"):
        with pytest.raises(ConfigError):
            parse_settings(f"macie: {{{bad}}}\n", "c.yaml")

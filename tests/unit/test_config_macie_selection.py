"""Macie's identifier selection must cover every type masking.actions promises to mask."""

from __future__ import annotations

import pytest

from dcp.config import ConfigError, default_settings, parse_settings
from dcp.masking.identifiers import RECOMMENDED_MANAGED_IDENTIFIERS


def test_default_selection_includes_every_managed_type_the_actions_name() -> None:
    settings = default_settings()
    assert settings.macie.managed_identifier_selection == "INCLUDE"
    assert set(settings.macie_managed_ids()) == {
        "BANK_ACCOUNT_NUMBER",
        "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
        "UK_BANK_ACCOUNT_NUMBER",
        "GERMANY_BANK_ACCOUNT_NUMBER",
        "FRANCE_BANK_ACCOUNT_NUMBER",
        "SPAIN_BANK_ACCOUNT_NUMBER",
        "ITALY_BANK_ACCOUNT_NUMBER",
        "CREDIT_CARD_EXPIRATION",
        "CREDIT_CARD_NUMBER",
        "CREDIT_CARD_SECURITY_CODE",
        "DATE_OF_BIRTH",
        "NAME",
    }
    # EMAIL_ADDRESS is a dcp extension: real Macie has no managed identifier for it.
    assert set(settings.undetectable_action_types()) == {"EMAIL_ADDRESS"}


def test_recommended_set_is_the_documented_one() -> None:
    assert {"CREDIT_CARD_NUMBER", "CREDIT_CARD_MAGNETIC_STRIPE", "AWS_CREDENTIALS"} <= RECOMMENDED_MANAGED_IDENTIFIERS
    assert not {"NAME", "DATE_OF_BIRTH", "BANK_ACCOUNT_NUMBER", "CREDIT_CARD_SECURITY_CODE"} & (
        RECOMMENDED_MANAGED_IDENTIFIERS
    )


def test_recommended_with_a_name_action_is_refused_with_the_action_line() -> None:
    text = "macie:\n  managed_identifier_selection: RECOMMENDED\nmasking:\n  actions:\n    NAME: redact\n"
    with pytest.raises(ConfigError) as err:
        parse_settings(text)
    assert err.value.line == 5
    assert "NAME" in str(err.value) and "RECOMMENDED" in str(err.value)


def test_recommended_is_fine_for_types_in_the_set() -> None:
    text = (
        "macie:\n  managed_identifier_selection: RECOMMENDED\nmasking:\n  actions:\n    CREDIT_CARD_NUMBER: partial\n"
    )
    assert parse_settings(text).undetectable_action_types() == {}


def test_include_list_missing_an_action_type_is_refused() -> None:
    text = (
        "macie:\n  managed_identifier_selection: INCLUDE\n  managed_identifier_ids: [NAME]\n"
        "masking:\n  actions:\n    NAME: redact\n    DATE_OF_BIRTH: redact\n"
    )
    with pytest.raises(ConfigError, match="DATE_OF_BIRTH"):
        parse_settings(text)


def test_a_custom_identifier_covers_its_own_type() -> None:
    text = (
        "macie:\n  managed_identifier_selection: NONE\n  custom_identifiers:\n    - name: acct\n      regex: 'A-\\d+'\n"
        "masking:\n  actions:\n    acct: token\n"
    )
    assert parse_settings(text).undetectable_action_types() == {}


def test_extension_ids_are_not_macie_ids() -> None:
    text = "macie:\n  managed_identifier_selection: INCLUDE\n  managed_identifier_ids: [EMAIL_ADDRESS]\n"
    with pytest.raises(ConfigError, match="EMAIL_ADDRESS"):
        parse_settings(text)

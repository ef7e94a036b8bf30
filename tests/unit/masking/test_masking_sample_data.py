"""Sample tables: the project's column names, deterministic per seed, unique ids."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from dcp.masking.checks import check_card, iban_valid
from dcp.masking.sample_data import DECOY_TABLES, PII_TABLES, generate_table


def test_columns_are_the_samples() -> None:
    assert generate_table("customer", 3).column_names == [
        "id",
        "username",
        "name",
        "gender",
        "mail",
        "birthdate",
    ]
    assert generate_table("bank", 3).column_names == ["id", "account_number", "iban", "bban"]
    assert generate_table("card", 3).column_names == [
        "id",
        "provider",
        "card_number",
        "expiration",
        "security_code",
    ]


@pytest.mark.parametrize("name", PII_TABLES + DECOY_TABLES)
def test_deterministic_per_seed_with_unique_ids(name: str) -> None:
    first = generate_table(name, 500, seed=42)
    assert first.equals(generate_table(name, 500, seed=42))
    assert not first.equals(generate_table(name, 500, seed=43))
    id_column = first.column(first.column_names[0])
    assert pc.count_distinct(id_column).as_py() == 500


def test_values_are_valid() -> None:
    bank = generate_table("bank", 1000, seed=1)
    assert pc.all(iban_valid(bank.column("iban").combine_chunks())).as_py()
    assert bank.column("account_number")[0].as_py().startswith("XYZ-")
    card = generate_table("card", 1000, seed=1)
    assert pc.all(check_card(card.column("card_number").combine_chunks())).as_py()


def test_unknown_table() -> None:
    with pytest.raises(KeyError, match="customer"):
        generate_table("nope", 1)

"""Each managed identifier finds its data in many formats and locales, and leaves decoys alone."""

from __future__ import annotations

import pyarrow as pa
import pytest
from faker import Faker

from dcp.masking.detect import ColumnScanner, name_has_keyword, rules_for
from dcp.masking.identifiers import (
    MACIE_DOCS_READ,
    MACIE_RULES,
    MANAGED_IDENTIFIERS,
    Category,
    CustomIdentifier,
    MacieRule,
    managed_identifier,
    select_managed,
)

LOCALES = ("en_US", "de_DE", "fr_FR", "en_GB")


def detected(type_id: str, values: list[str], column: str = "value") -> list[bool]:
    """Per value: does identifier ``type_id`` detect it in a column named ``column``?"""
    scanner = ColumnScanner(name=column, index=0, rules=rules_for([managed_identifier(type_id)], [], "1", "r"))
    hits = scanner.scan(pa.array(values, pa.string()))
    rows = {row for array in hits.values() for row in array.to_pylist()}
    return [i in rows for i in range(len(values))]


def custom_detected(identifier: CustomIdentifier, values: list[str], column: str = "value") -> list[bool]:
    scanner = ColumnScanner(name=column, index=0, rules=rules_for([], [identifier], "1", "r"))
    hits = scanner.scan(pa.array(values, pa.string()))
    rows = {row for array in hits.values() for row in array.to_pylist()}
    return [i in rows for i in range(len(values))]


def fakers(seed: int = 7) -> list[Faker]:
    result = []
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        result.append(fake)
    return result


# --- registry --------------------------------------------------------------------------------
def test_macie_ids_and_categories() -> None:
    expected = {
        "CREDIT_CARD_NUMBER": Category.FINANCIAL_INFORMATION,
        "CREDIT_CARD_EXPIRATION": Category.FINANCIAL_INFORMATION,
        "CREDIT_CARD_SECURITY_CODE": Category.FINANCIAL_INFORMATION,
        "BANK_ACCOUNT_NUMBER": Category.FINANCIAL_INFORMATION,
        "UK_BANK_ACCOUNT_NUMBER": Category.FINANCIAL_INFORMATION,
        "GERMANY_BANK_ACCOUNT_NUMBER": Category.FINANCIAL_INFORMATION,
        "FRANCE_BANK_ACCOUNT_NUMBER": Category.FINANCIAL_INFORMATION,
        "INTERNATIONAL_BANK_ACCOUNT_NUMBER": Category.FINANCIAL_INFORMATION,
        "NAME": Category.PERSONAL_INFORMATION,
        "ADDRESS": Category.PERSONAL_INFORMATION,
        "DATE_OF_BIRTH": Category.PERSONAL_INFORMATION,
        "PHONE_NUMBER": Category.PERSONAL_INFORMATION,
        "USA_SOCIAL_SECURITY_NUMBER": Category.PERSONAL_INFORMATION,
        "USA_PASSPORT_NUMBER": Category.PERSONAL_INFORMATION,
        "AWS_CREDENTIALS": Category.CREDENTIALS,
    }
    for type_id, category in expected.items():
        assert managed_identifier(type_id).category is category
    assert managed_identifier("CREDIT_CARD_NUMBER_(NO_KEYWORD)").id == "CREDIT_CARD_NUMBER"
    # Macie has no managed identifier for these two: dcp marks them as its own extensions
    assert not managed_identifier("EMAIL_ADDRESS").macie_managed
    assert not managed_identifier("IP_ADDRESS").macie_managed
    assert len({i.id for i in MANAGED_IDENTIFIERS}) == len(MANAGED_IDENTIFIERS)


def test_unknown_identifier_names_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="CREDIT_CARD_NUMBER"):
        select_managed(["NOT_A_THING"])


def test_select_managed_subset() -> None:
    assert [i.id for i in select_managed(["name", "IBAN"])] == ["NAME", "INTERNATIONAL_BANK_ACCOUNT_NUMBER"]


@pytest.mark.parametrize(
    ("column", "keywords", "expected"),
    [
        ("birthdate", ("birthdate",), True),
        ("date_of_birth", ("date of birth",), True),
        ("security_code", ("security code",), True),
        ("cardExpiry", ("expiry",), True),
        ("export_date", ("exp",), False),
        ("$.customer.dob", ("dob",), True),
        ("created_at", ("birth", "dob"), False),
    ],
)
def test_column_name_keywords(column: str, keywords: tuple[str, ...], expected: bool) -> None:
    assert name_has_keyword(column, keywords) is expected


# --- credit cards ----------------------------------------------------------------------------
def test_credit_card_numbers_from_faker_all_brands() -> None:
    values = []
    for fake in fakers():
        for card_type in ("visa", "mastercard", "amex", "discover", "jcb", "diners", "maestro"):
            values += [fake.credit_card_number(card_type) for _ in range(5)]
    assert all(detected("CREDIT_CARD_NUMBER", values, column="card_number"))


def test_credit_card_formats_without_keyword() -> None:
    values = [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500005555555559",
        "3782 822463 10005",
        "paid with 4012888888881881 yesterday",
    ]
    assert all(detected("CREDIT_CARD_NUMBER", values))


def test_credit_card_decoys() -> None:
    values = [
        "4111111111111112",  # Luhn fails
        "1234567812345670",  # no issuer uses prefix 1
        "ORD-2024-000123",
        "0.4111111111111111",  # the fraction of a decimal number
        "2024-03-01 12:34:56",
        "tracking 1Z999AA10123456784",
        "150008063608377835",  # an 18-digit German BBAN: only a card with a card keyword nearby
    ]
    assert not any(detected("CREDIT_CARD_NUMBER", values))


def test_credit_card_keyword_widens_lengths() -> None:
    maestro_12 = "503866495057"  # 12 digits: common lengths only without a keyword
    assert detected("CREDIT_CARD_NUMBER", [maestro_12]) == [False]
    assert detected("CREDIT_CARD_NUMBER", [f"card number: {maestro_12}"]) == [True]
    assert detected("CREDIT_CARD_NUMBER", [maestro_12], column="card_number") == [True]


def test_expiration_needs_keyword() -> None:
    values = [fake.credit_card_expire() for fake in fakers() for _ in range(5)]
    assert all(detected("CREDIT_CARD_EXPIRATION", values, column="expiration"))
    assert all(detected("CREDIT_CARD_EXPIRATION", ["exp 04/27", "Expiry: 11/2029", "valid thru 01-31"]))
    assert not any(detected("CREDIT_CARD_EXPIRATION", values, column="period"))


def test_security_code_needs_keyword() -> None:
    assert all(detected("CREDIT_CARD_SECURITY_CODE", ["123", "4567"], column="security_code"))
    assert all(detected("CREDIT_CARD_SECURITY_CODE", ["CVV: 123", "cvc2 987"]))
    assert not any(detected("CREDIT_CARD_SECURITY_CODE", ["123", "qty 4567"], column="quantity"))


# --- banking ---------------------------------------------------------------------------------
def test_iban_all_locales_and_spacing() -> None:
    values = []
    for fake in fakers():
        for _ in range(10):
            iban = fake.iban()
            values.append(iban)
            values.append(" ".join(iban[i : i + 4] for i in range(0, len(iban), 4)))
    values.append("transfer to DE89 3704 0044 0532 0130 00 today")
    assert all(detected("INTERNATIONAL_BANK_ACCOUNT_NUMBER", values))


def test_iban_decoys() -> None:
    values = ["DE89370400440532013001", "GB00WEST12345698765432", "XX89370400440532013000", "SKU-AB12-3456"]
    assert not any(detected("INTERNATIONAL_BANK_ACCOUNT_NUMBER", values))


@pytest.mark.parametrize(
    ("locale", "type_id"),
    [
        ("en_GB", "UK_BANK_ACCOUNT_NUMBER"),
        ("de_DE", "GERMANY_BANK_ACCOUNT_NUMBER"),
        ("fr_FR", "FRANCE_BANK_ACCOUNT_NUMBER"),
        ("es_ES", "SPAIN_BANK_ACCOUNT_NUMBER"),
        ("it_IT", "ITALY_BANK_ACCOUNT_NUMBER"),
    ],
)
def test_bban_by_country_with_keyword(locale: str, type_id: str) -> None:
    fake = Faker(locale)
    fake.seed_instance(3)
    values = [fake.bban() for _ in range(20)]
    assert all(detected(type_id, values, column="bban"))
    assert all(detected(type_id, [f"Kontonummer / account number: {v}" for v in values]))
    assert not any(detected(type_id, values, column="reference"))


def test_us_bank_account_number() -> None:
    assert detected("BANK_ACCOUNT_NUMBER", ["checking account 123456789012"]) == [True]
    assert detected("BANK_ACCOUNT_NUMBER", ["123456789012"], column="bank_account") == [True]
    assert detected("BANK_ACCOUNT_NUMBER", ["123456789012", "order 123456789012"]) == [False, False]


# --- personal --------------------------------------------------------------------------------
def test_names_across_locales() -> None:
    values = [fake.name() for fake in fakers() for _ in range(50)]
    hits = detected("NAME", values)
    assert sum(hits) / len(hits) >= 0.95, [v for v, h in zip(values, hits, strict=True) if not h]
    assert detected("NAME", ["please call Maria Schmidt tomorrow", "Élodie Dupont"]) == [True, True]


def test_name_decoys() -> None:
    values = [
        "Deluxe Toaster",
        "DHL Express",
        "Royal Mail",
        "VISA 16 digit",
        "EU-WEST-1",
        "shipped",
        "New York",
    ]
    assert not any(detected("NAME", values))


def test_birth_dates_need_a_keyword() -> None:
    dates = ["1980-03-04", "04/03/1980", "4.3.1980", "March 4, 1980", "4 Mar 1980"]
    assert all(detected("DATE_OF_BIRTH", dates, column="birthdate"))
    assert all(detected("DATE_OF_BIRTH", [f"DOB: {d}" for d in dates]))
    assert all(detected("DATE_OF_BIRTH", ["geboren 12.05.1977", "né le 01/02/1960"]))
    assert not any(detected("DATE_OF_BIRTH", dates, column="order_date"))
    assert not any(detected("DATE_OF_BIRTH", ["Order shipped on 2024-03-01", "2024-03-01 12:00:00"]))


def test_phone_numbers() -> None:
    values = []
    for fake in fakers():
        values += [fake.phone_number() for _ in range(20)]
    assert all(detected("PHONE_NUMBER", values, column="phone"))
    # Macie needs no keyword for a number in E.164 form (+ country code) ...
    international = ["+1-733-874-0681", "+49 (0) 374 068124", "+44 161 496 0835"]
    assert all(detected("PHONE_NUMBER", international))
    # ... and a keyword for every national form
    national = ["(733)874-0681x241", "01 23 45 67 89", "0044 20 7946 0958"]
    assert not any(detected("PHONE_NUMBER", national))
    assert all(detected("PHONE_NUMBER", [f"Tel: {v}" for v in national]))
    decoys = [
        "0251586834",
        "ORD-2024-000123",
        "2024-03-01 12:34:56",
        "Invoice 123456 total 99.50",
        "00012345",
        "0.0012345678912",  # a small decimal is no 00-prefixed international number
    ]
    assert not any(detected("PHONE_NUMBER", decoys, column="reference"))


def test_addresses_across_locales() -> None:
    values = [fake.address() for fake in fakers() for _ in range(25)]
    hits = detected("ADDRESS", values)
    assert sum(hits) / len(hits) >= 0.9, [v for v, h in zip(values, hits, strict=True) if not h]
    decoys = [
        "Order 12345 shipped in 3 boxes",
        "Batch 33-4 passed QA at 12:30",
        "Price changed from 3.50 to 4.00",
    ]
    assert not any(detected("ADDRESS", decoys))


def test_ssn() -> None:
    fake = Faker("en_US")
    fake.seed_instance(1)
    values = [fake.ssn() for _ in range(20)]
    assert all(detected("USA_SOCIAL_SECURITY_NUMBER", values, column="ssn"))
    assert all(detected("USA_SOCIAL_SECURITY_NUMBER", [f"SSN {v}" for v in values]))
    invalid = ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000"]
    assert not any(detected("USA_SOCIAL_SECURITY_NUMBER", invalid, column="ssn"))
    assert not any(detected("USA_SOCIAL_SECURITY_NUMBER", values, column="part_no"))


def test_passport_numbers() -> None:
    fake = Faker("en_US")
    fake.seed_instance(1)
    values = [fake.passport_number() for _ in range(20)]
    assert all(detected("USA_PASSPORT_NUMBER", values, column="passport_number"))
    assert detected("FRANCE_PASSPORT_NUMBER", ["passeport 12AB34567"]) == [True]
    assert detected("GERMANY_PASSPORT_NUMBER", ["Reisepass C01X00T47"]) == [True]
    assert not any(detected("USA_PASSPORT_NUMBER", values, column="order_number"))


def test_email_and_ip() -> None:
    emails = [fake.email() for fake in fakers() for _ in range(10)]
    assert all(detected("EMAIL_ADDRESS", emails))
    assert not any(detected("EMAIL_ADDRESS", ["user at example dot com", "@handle", "a@b"]))
    ips = [fake.ipv4() for fake in fakers() for _ in range(5)] + ["2001:0db8:85a3:0000:0000:8a2e:0370:7334"]
    assert all(detected("IP_ADDRESS", ips))
    assert not any(detected("IP_ADDRESS", ["999.1.1.1", "v1.2.3", "3.14"]))


def test_aws_credentials_need_a_keyword() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert detected("AWS_CREDENTIALS", [f"aws_secret_access_key = {secret}"]) == [True]
    assert detected("AWS_CREDENTIALS", ["aws_access_key_id=AKIAIOSFODNN7EXAMPLE"]) == [True]
    assert detected("AWS_CREDENTIALS", [secret], column="aws_secret_access_key") == [True]
    commit = "3f786850e387550fdab836ed7e6dc881de23001b"
    assert detected("AWS_CREDENTIALS", [commit, secret], column="commit") == [False, False]


# --- custom identifiers (CreateCustomDataIdentifier semantics) -------------------------------
def test_default_custom_identifier() -> None:
    account = CustomIdentifier(name="account_number", regex=r"XYZ-\d+")
    assert custom_detected(account, ["XYZ-123", "xyz-123", "ABC-1"]) == [True, False, False]


def test_custom_keywords_are_case_insensitive_and_must_precede_within_distance() -> None:
    employee = CustomIdentifier(
        name="employee_id", regex=r"\bE\d{6}\b", keywords=("employee id",), maximum_match_distance=20
    )
    values = [
        "Employee ID: E123456",  # keyword right before
        "EMPLOYEE ID                E123456",  # 27 chars from keyword end to match end > 20
        "E123456 is the employee id",  # keyword after the match
        "E123456",  # no keyword
    ]
    assert custom_detected(employee, values) == [True, False, False, False]
    # a keyword in the column name counts for every value (structured data)
    assert custom_detected(employee, ["E123456"], column="employee_id") == [True]


def test_custom_ignore_words_are_case_sensitive() -> None:
    account = CustomIdentifier(name="acct", regex=r"XYZ-\d+", ignore_words=("XYZ-000",))
    assert custom_detected(account, ["XYZ-000", "XYZ-0001", "XYZ-123"]) == [False, False, True]
    lower = CustomIdentifier(name="acct", regex=r"XYZ-\d+", ignore_words=("xyz-000",))
    assert custom_detected(lower, ["XYZ-000"]) == [True]


def test_custom_identifier_validation() -> None:
    with pytest.raises(ValueError, match="maximum_match_distance"):
        CustomIdentifier(name="x", regex="a", maximum_match_distance=301)
    with pytest.raises(ValueError, match="invalid regex"):
        CustomIdentifier(name="x", regex="(")


def test_bban_separators_as_macie_documents() -> None:
    values = ["NWBK60161331926819", "NWBK 6016 1331 9268 19", "NWBK-6016-1331-9268-19"]
    assert all(detected("UK_BANK_ACCOUNT_NUMBER", values, column="bban"))


def test_managed_ids_for_selector() -> None:
    from dcp.masking.identifiers import managed_ids_for_selector

    assert managed_ids_for_selector("ALL") is None
    assert managed_ids_for_selector("INCLUDE", ["iban", "NAME"]) == ["INTERNATIONAL_BANK_ACCOUNT_NUMBER", "NAME"]
    excluded = managed_ids_for_selector("EXCLUDE", ["NAME"])
    assert excluded is not None and "NAME" not in excluded and "CREDIT_CARD_NUMBER" in excluded
    assert managed_ids_for_selector("NONE") == []
    with pytest.raises(ValueError, match="INCLUDE"):
        managed_ids_for_selector("SOME")


# --- Macie's documented rules, identifier by identifier ----------------------------------------
#: a value each keyword-requiring identifier's pattern and checks accept
KEYWORD_EXAMPLES = {
    "AWS_CREDENTIALS": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "BANK_ACCOUNT_NUMBER": "123456789012",
    "UK_BANK_ACCOUNT_NUMBER": "NWBK60161331926819",
    "GERMANY_BANK_ACCOUNT_NUMBER": "370400440532013000",
    "FRANCE_BANK_ACCOUNT_NUMBER": "30006000011234567890189",
    "SPAIN_BANK_ACCOUNT_NUMBER": "21000418450200051332",
    "ITALY_BANK_ACCOUNT_NUMBER": "X0542811101000000123456",
    "CREDIT_CARD_EXPIRATION": "04/27",
    "CREDIT_CARD_NUMBER": "503866495057",  # a 12-digit Maestro: only the keyword variant takes it
    "CREDIT_CARD_SECURITY_CODE": "123",
    "DATE_OF_BIRTH": "1980-03-04",
    "PHONE_NUMBER": "0251586834",
    "USA_SOCIAL_SECURITY_NUMBER": "123-45-6789",
    "FRANCE_PASSPORT_NUMBER": "12AB34567",
    "GERMANY_PASSPORT_NUMBER": "C01X00T47",
    "UK_PASSPORT_NUMBER": "123456789",
    "USA_PASSPORT_NUMBER": "A12345678",
}
#: a value each identifier Macie runs without a keyword accepts
NO_KEYWORD_EXAMPLES = {
    "ADDRESS": "4978 Chapman Bypass\nSanchezfurt, MT 87630",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER": "DE89370400440532013000",
    "NAME": "Maria Schmidt",
    "CREDIT_CARD_NUMBER": "4111 1111 1111 1111",  # CREDIT_CARD_NUMBER_(NO_KEYWORD)
    "PHONE_NUMBER": "+44 161 496 0835",  # E.164 needs no keyword
}


def test_every_macie_identifier_has_its_documented_rule() -> None:
    implemented = {i.id for i in MANAGED_IDENTIFIERS if i.macie_managed}
    assert implemented == {rule.id for rule in MACIE_RULES}
    for rule in MACIE_RULES:
        assert rule.page.startswith("https://docs.aws.amazon.com/macie/latest/user/mdis-reference-")
        assert rule.retrieved == MACIE_DOCS_READ
        assert rule.maximum_keyword_distance == 30  # managed-data-identifiers-keywords.html
        identifier = managed_identifier(rule.id)
        assert set(rule.keywords) <= set(identifier.keywords)
        assert identifier.countries == rule.countries
        # a required keyword is required by every pattern, but for the documented exception
        optional = [p for p in identifier.rules if not p.keyword_required]
        if not rule.keyword_required:
            assert optional == list(identifier.rules) and not rule.without_keyword
        elif rule.without_keyword:
            assert len(optional) == 1
        else:
            assert not optional, rule.id
    assert set(KEYWORD_EXAMPLES) == {r.id for r in MACIE_RULES if r.keyword_required}
    assert set(NO_KEYWORD_EXAMPLES) == {r.id for r in MACIE_RULES if not r.keyword_required or r.without_keyword}


@pytest.mark.parametrize("rule", [r for r in MACIE_RULES if r.keyword_required], ids=lambda r: r.id)
def test_required_keyword_in_the_cell_or_the_column_name(rule: MacieRule) -> None:
    value = KEYWORD_EXAMPLES[rule.id]
    keyword = rule.keywords[0]
    column = keyword.replace(" ", "_")
    assert detected(rule.id, [value], column="value") == [False]
    assert detected(rule.id, [f"{value} {keyword}"], column="value") == [False]  # keywords precede
    assert detected(rule.id, [value], column=column) == [True]
    assert detected(rule.id, [f"{keyword.upper()}: {value}"]) == [True]
    # "within 30 characters (inclusively) of the data"
    assert detected(rule.id, [keyword + " " * 30 + value]) == [True]
    assert detected(rule.id, [keyword + " " * 31 + value]) == [False]


@pytest.mark.parametrize("type_id", sorted(NO_KEYWORD_EXAMPLES))
def test_no_keyword_needed_where_macie_needs_none(type_id: str) -> None:
    assert detected(type_id, [NO_KEYWORD_EXAMPLES[type_id]], column="value") == [True]

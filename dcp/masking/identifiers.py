"""Data identifiers: Macie's managed identifiers (IDs, categories, keywords) and custom ones.

Each managed identifier carries Amazon Macie's own ID and sensitive-data category, so a
finding written by dcp reads like one written by Macie and the masking policy can be keyed
by the same IDs in both worlds.

Matching is described as data here and executed in :mod:`dcp.masking.detect`: every
:class:`PatternRule` is a regular expression in the syntax shared by RE2 (used by
``pyarrow.compute`` for the vectorised prefilter) and Python's ``re`` (used for the exact
check on the few cells that passed the prefilter), optionally followed by a validator from
:mod:`dcp.masking.checks` (Luhn, IBAN mod-97, ...).

What Macie documents for each managed identifier (keyword required or not, the keywords,
the keyword distance, the checks, the countries) is one table, :data:`MACIE_RULES`, each
record naming its user-guide page and the date it was read; a :class:`ManagedIdentifier`
takes its keywords, countries and distance from its record. Keyword semantics follow Macie:
keywords are case-insensitive and must precede the data. For a managed identifier the
keyword must be within 30 characters (inclusive) of the data; for a custom identifier within
``maximum_match_distance`` characters counted from the end of the keyword to the end of the
match (CreateCustomDataIdentifier). In structured data (CSV, JSON, Parquet) a keyword in the
column name or JSON path counts as a keyword near every value of that column.

Two identifiers are dcp extensions rather than Macie managed identifiers, because Macie (v2)
has no managed identifier for them: ``EMAIL_ADDRESS`` and ``IP_ADDRESS``
(``macie_managed=False``). They are reported in ``sensitiveData`` under
``PERSONAL_INFORMATION`` like a managed type; real Macie would need a custom identifier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

DEFAULT_MAXIMUM_MATCH_DISTANCE = 50


class Category(StrEnum):
    """Macie's sensitive-data categories (``sensitiveData[].category``)."""

    FINANCIAL_INFORMATION = "FINANCIAL_INFORMATION"
    PERSONAL_INFORMATION = "PERSONAL_INFORMATION"
    CREDENTIALS = "CREDENTIALS"
    CUSTOM_IDENTIFIER = "CUSTOM_IDENTIFIER"


#: Finding type suffix (``SensitiveData:S3Object/<suffix>``) for a finding whose detections
#: all fall in one category.
FINDING_TYPE_SUFFIX: Mapping[Category, str] = {
    Category.FINANCIAL_INFORMATION: "Financial",
    Category.PERSONAL_INFORMATION: "Personal",
    Category.CREDENTIALS: "Credentials",
    Category.CUSTOM_IDENTIFIER: "CustomIdentifier",
}


class Check(StrEnum):
    """Validators applied after a regex match (implemented in :mod:`dcp.masking.checks`)."""

    NONE = "none"
    LUHN_CARD = "luhn_card"
    IBAN = "iban"
    SSN = "ssn"
    PHONE_DIGITS = "phone_digits"
    NAME = "name"


@dataclass(frozen=True)
class PatternRule:
    """One way of recognising an identifier: a regex, its validator, and whether it needs a keyword.

    ``plain`` (optional, anchored at both ends) describes the cells a column of this kind mostly
    holds (a card number stored as digits, a name as capitalised words); on a cell that matches
    ``plain`` the regex finds at most one match, and that match is the cell without its trailing
    ``plain_tail`` characters. Detection then takes the match without extracting it by regex.
    ``plain_matches``: the regex finds exactly that match on every plain cell (not only at most
    one), so plain cells need no regex test at all.
    ``needs`` (optional): every match contains one of these strings, so a batch of a column
    without any of them is not searched for the pattern at all.
    ``gate`` (optional): a tail of ``regex`` (its last top-level items) that the detection's
    combined gate uses in its place. Every match of ``regex`` holds a match of the tail, so
    the gate still lets every such cell through; a leading unbounded part (any run of
    characters, then a digit) blows up RE2's DFA for the alternation of all rules: the gate
    ran 3-4x slower on free text and e-mail columns with it.
    tests/unit/masking/test_masking_detect_fastpath.py holds every rule to all three.
    """

    regex: str
    keyword_required: bool = False
    check: Check = Check.NONE
    plain: str = ""
    plain_tail: str = ""
    plain_matches: bool = False
    needs: tuple[str, ...] = ()
    gate: str = ""


@dataclass(frozen=True)
class MacieRule:
    """What Amazon Macie's user guide documents for one managed data identifier.

    ``keyword_required`` is the page's "Keyword required"; ``without_keyword`` names the
    documented exception where one exists (the NO_KEYWORD card variant, E.164 phone numbers).
    ``maximum_keyword_distance`` is the proximity Macie requires between keyword and data.
    """

    id: str
    keyword_required: bool
    keywords: tuple[str, ...]
    countries: tuple[str, ...]
    checks: str
    page: str
    retrieved: str
    without_keyword: str = ""
    maximum_keyword_distance: int = 30


@dataclass(frozen=True)
class ManagedIdentifier:
    """A managed data identifier with Macie's ID and category, and how dcp recognises it.

    ``documented`` is Macie's rule for it (None for dcp's own extensions, which Macie has no
    managed identifier for); ``extra_keywords`` are the column-name spellings dcp accepts
    besides Macie's keywords (the sample tables' ``security_code``, ``bban``, ...).
    """

    id: str
    category: Category
    description: str
    rules: tuple[PatternRule, ...]
    documented: MacieRule | None
    extra_keywords: tuple[str, ...] = ()
    #: other IDs Macie uses for the same detector (for example the no-keyword card variant)
    aliases: tuple[str, ...] = ()

    @property
    def macie_managed(self) -> bool:
        return self.documented is not None

    @property
    def keywords(self) -> tuple[str, ...]:
        documented = self.documented.keywords if self.documented else ()
        return tuple(dict.fromkeys(documented + self.extra_keywords))

    @property
    def countries(self) -> tuple[str, ...]:
        return self.documented.countries if self.documented else ("Any",)

    @property
    def maximum_match_distance(self) -> int:
        return self.documented.maximum_keyword_distance if self.documented else DEFAULT_MAXIMUM_MATCH_DISTANCE

    @property
    def finding_type_suffix(self) -> str:
        return FINDING_TYPE_SUFFIX[self.category]


@dataclass(frozen=True)
class CustomIdentifier:
    """A Macie custom data identifier (CreateCustomDataIdentifier semantics).

    ``keywords`` are case-insensitive and must precede the match by at most
    ``maximum_match_distance`` characters (1-300, default 50); ``ignore_words`` are
    case-sensitive and drop a match whose text contains any of them.
    """

    name: str
    regex: str
    keywords: tuple[str, ...] = ()
    ignore_words: tuple[str, ...] = ()
    maximum_match_distance: int = DEFAULT_MAXIMUM_MATCH_DISTANCE
    arn: str | None = None
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a custom data identifier needs a name")
        if not 1 <= self.maximum_match_distance <= 300:
            raise ValueError(
                f"custom identifier {self.name!r}: maximum_match_distance must be 1-300, "
                f"got {self.maximum_match_distance}"
            )
        try:
            compiled = re.compile(self.regex)
        except re.error as exc:
            raise ValueError(f"custom identifier {self.name!r}: invalid regex: {exc}") from exc
        object.__setattr__(self, "keywords", tuple(self.keywords))
        object.__setattr__(self, "ignore_words", tuple(self.ignore_words))
        object.__setattr__(self, "_compiled", compiled)

    @property
    def compiled(self) -> re.Pattern[str]:
        return self._compiled

    def finding_arn(self, account_id: str, region: str) -> str:
        """The ARN a finding names this identifier by (a stable placeholder when none was given)."""
        return self.arn or f"arn:aws:macie2:{region}:{account_id}:custom-data-identifier/{self.name}"


#: The project's default custom identifier: the sample bank table's account numbers.
DEFAULT_CUSTOM_IDENTIFIERS: tuple[CustomIdentifier, ...] = (CustomIdentifier(name="account_number", regex=r"XYZ-\d+"),)

# --- building blocks -----------------------------------------------------------------------
_YEAR = r"(?:19|20)\d{2}"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH_NAME = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
_NAME_WORD = rf"[{_UPPER}][{_LOWER}']+(?:-[{_UPPER}](?:[{_LOWER}']+|\.))*"
#: a cell of ASCII digits only (PatternRule.plain of the digit identifiers)
DIGITS_ONLY = r"^[0-9]+$"
#: what may follow a plain name: a number, no letters
_NUMBER_TAIL = "0-9 ./:-"
#: an address spans lines, or a comma joins them
_LINE_BREAKS = ("\n", ", ")

# --- Macie's documented rules ------------------------------------------------------------------
#: the day the Macie user guide pages below were read for MACIE_RULES
MACIE_DOCS_READ = "2026-11-30"
_GUIDE = "https://docs.aws.amazon.com/macie/latest/user/"
#: "a keyword typically has to be within 30 characters (inclusively) of the data"; for columnar
#: data a keyword in the column (or field path) name counts for every value of the column
KEYWORD_REQUIREMENTS_PAGE = _GUIDE + "managed-data-identifiers-keywords.html"
_FINANCIAL = _GUIDE + "mdis-reference-financial.html"
_PII = _GUIDE + "mdis-reference-pii.html"
_CREDENTIALS = _GUIDE + "mdis-reference-credentials.html"
_BBAN_COUNTRIES_PAGE = _FINANCIAL + "#mdis-reference-BBAN"

_BBAN_KEYWORDS = (
    # Macie's BBAN keywords (English, French, German, Italian, Spanish)
    "account code",
    "account no",
    "account number",
    "accountno#",
    "accountnumber#",
    "bank account",
    "bank acct",
    "sort code",
    "code bancaire",
    "compte bancaire",
    "numéro de compte",
    "numero de compte",
    "rib",
    "bankkonto",
    "kontonummer",
    "konto",
    "conto corrente",
    "numero di conto",
    "codice bancario",
    "cuenta bancaria",
    "número de cuenta",
    "numero de cuenta",
    "ccc",
)

#: One record per managed identifier dcp implements, as Macie's user guide documents it (the
#: quick reference mdis-reference-quick.html for "Keyword required" and the countries, the
#: category page named in ``page`` for the keywords and checks), read on MACIE_DOCS_READ.
MACIE_RULES: tuple[MacieRule, ...] = (
    MacieRule(
        id="AWS_CREDENTIALS",
        keyword_required=True,
        keywords=(
            "aws_secret_access_key",
            "aws secret access key",
            "secret access key",
            "aws_access_key_id",
            "access key id",
            "aws secret",
            "secret key",
            "aws key",
        ),
        countries=("Any",),
        checks="40-character secret access key (an access key ID is only context)",
        page=_CREDENTIALS,
        retrieved=MACIE_DOCS_READ,
    ),
    MacieRule(
        id="BANK_ACCOUNT_NUMBER",
        keyword_required=True,
        keywords=(
            "bank account",
            "bank acct",
            "checking account",
            "checking acct",
            "deposit account",
            "deposit acct",
            "savings account",
            "savings acct",
            "chequing account",
            "chequing acct",
        ),
        countries=("CA", "US"),
        checks="9-17 digits",
        page=_FINANCIAL,
        retrieved=MACIE_DOCS_READ,
    ),
    *(
        MacieRule(
            id=f"{country_name}_BANK_ACCOUNT_NUMBER",
            keyword_required=True,
            keywords=_BBAN_KEYWORDS,
            countries=(country,),
            checks=layout,
            page=_BBAN_COUNTRIES_PAGE,
            retrieved=MACIE_DOCS_READ,
        )
        for country_name, country, layout in (
            ("FRANCE", "FR", "bank, branch, 11-character account, 2-digit key (23 characters)"),
            ("GERMANY", "DE", "8-digit bank code + 10-digit account"),
            ("ITALY", "IT", "CIN letter, ABI, CAB, 12-character account"),
            ("SPAIN", "ES", "20 digits (bank, branch, check digits, account)"),
            ("UK", "GB", "4-letter bank code, 6-digit sort code, 8-digit account; spaces or hyphens allowed"),
        )
    ),
    MacieRule(
        id="CREDIT_CARD_EXPIRATION",
        keyword_required=True,
        keywords=(
            "exp d",
            "exp m",
            "exp y",
            "expiration",
            "expiry",
            "expires",
            "valid thru",
            "valid through",
            "good thru",
            "ablaufdatum",
            "gültig bis",
            "date d'expiration",
            "scadenza",
            "caducidad",
        ),
        countries=("Any",),
        checks="month/year dates (MM/YY, MM/YYYY)",
        page=_FINANCIAL,
        retrieved=MACIE_DOCS_READ,
    ),
    MacieRule(
        id="CREDIT_CARD_NUMBER",
        keyword_required=True,
        keywords=(
            "american express",
            "amex",
            "bank card",
            "card num",
            "card number",
            "cc #",
            "cc#",
            "ccn",
            "check card",
            "credit card",
            "credit card#",
            "dankort",
            "debit card",
            "diners club",
            "discover",
            "jcb",
            "mastercard",
            "payment card number",
            "union pay",
            "visa",
        ),
        countries=("Any",),
        checks="13-19 digits, a card issuer's prefix, Luhn check",
        page=_FINANCIAL,
        retrieved=MACIE_DOCS_READ,
        without_keyword="CREDIT_CARD_NUMBER_(NO_KEYWORD): card numbers with no keyword nearby",
    ),
    MacieRule(
        id="CREDIT_CARD_SECURITY_CODE",
        keyword_required=True,
        keywords=(
            "card id",
            "card identification code",
            "card identification number",
            "card security code",
            "card validation code",
            "card validation number",
            "card verification data",
            "card verification value",
            "cvc",
            "cvc2",
            "cvv",
            "cvv2",
            "cid",
            "csc",
        ),
        countries=("Any",),
        checks="3 or 4 digits",
        page=_FINANCIAL,
        retrieved=MACIE_DOCS_READ,
    ),
    MacieRule(
        id="INTERNATIONAL_BANK_ACCOUNT_NUMBER",
        keyword_required=False,
        keywords=("iban",),
        countries=("IBAN countries",),
        checks="country code, the country's length, ISO 7064 mod-97 check digits; with or without spaces",
        page=_FINANCIAL,
        retrieved=MACIE_DOCS_READ,
    ),
    MacieRule(
        id="ADDRESS",
        keyword_required=False,
        keywords=(),
        countries=("AU", "CA", "FR", "DE", "IT", "ES", "GB", "US"),
        checks="a street line with the name of a city or place and a postal code",
        page=_PII,
        retrieved=MACIE_DOCS_READ,
    ),
    MacieRule(
        id="DATE_OF_BIRTH",
        keyword_required=True,
        keywords=(
            "bday",
            "b-day",
            "birth date",
            "birthday",
            "date of birth",
            "dob",
            "geburtsdatum",
            "geboren",
            "date de naissance",
            "né le",
            "née le",
            "fecha de nacimiento",
            "data di nascita",
        ),
        countries=("Any",),
        checks="most date forms: digits or month names, separated by spaces, slashes or hyphens",
        page=_PII,
        retrieved=MACIE_DOCS_READ,
    ),
    MacieRule(
        id="NAME",
        keyword_required=False,
        keywords=(),
        countries=("Any",),
        checks="full names only (first and last name), Latin characters",
        page=_PII,
        retrieved=MACIE_DOCS_READ,
    ),
    MacieRule(
        id="PHONE_NUMBER",
        keyword_required=True,
        keywords=(
            "cell",
            "landline",
            "mobile",
            "mobile#",
            "phone",
            "phone#",
            "tel",
            "tel#",
            "telephone",
            "telephone number",
            "fax",
            "cel",
            "celular",
            "fone",
            "telefone",
            "portable",
            "téléphone",
            "numéro de téléphone",
            "handy",
            "telefon",
            "telefonnummer",
            "cellulare",
            "telefono",
            "numero di telefono",
            "móvil",
            "teléfono",
        ),
        countries=("BR", "CA", "FR", "DE", "IT", "ES", "GB", "US"),
        checks="a country's phone number forms",
        page=_PII,
        retrieved=MACIE_DOCS_READ,
        without_keyword="numbers in E.164 form (+ country code) need no keyword",
    ),
    MacieRule(
        id="USA_SOCIAL_SECURITY_NUMBER",
        keyword_required=True,
        keywords=("social security", "ss#", "ssn", "ssns", "ssn#", "ssid"),
        countries=("US",),
        checks="area not 000, 666 or 900-999; group not 00; serial not 0000",
        page=_PII,
        retrieved=MACIE_DOCS_READ,
    ),
    MacieRule(
        id="FRANCE_PASSPORT_NUMBER",
        keyword_required=True,
        keywords=("numéro de passeport", "passeport", "passport"),
        countries=("FR",),
        checks="2 digits, 2 letters, 5 digits",
        page=_PII,
        retrieved=MACIE_DOCS_READ,
    ),
    MacieRule(
        id="GERMANY_PASSPORT_NUMBER",
        keyword_required=True,
        keywords=("reisepass", "reisepassnummer", "passnummer", "passport"),
        countries=("DE",),
        checks="9 characters of the passport alphabet",
        page=_PII,
        retrieved=MACIE_DOCS_READ,
    ),
    MacieRule(
        id="UK_PASSPORT_NUMBER",
        keyword_required=True,
        keywords=("passport #", "passport no", "passport number", "passport"),
        countries=("GB",),
        checks="9 digits",
        page=_PII,
        retrieved=MACIE_DOCS_READ,
    ),
    MacieRule(
        id="USA_PASSPORT_NUMBER",
        keyword_required=True,
        keywords=("passport", "passport number", "passport no", "passport#"),
        countries=("US",),
        checks="9 digits, or a letter and 8 digits",
        page=_PII,
        retrieved=MACIE_DOCS_READ,
    ),
)

_DOCUMENTED = {rule.id: rule for rule in MACIE_RULES}


def macie_rule(identifier_id: str) -> MacieRule:
    """Macie's documented rule for a managed identifier ID."""
    return _DOCUMENTED[identifier_id]


MANAGED_IDENTIFIERS: tuple[ManagedIdentifier, ...] = (
    ManagedIdentifier(
        id="CREDIT_CARD_NUMBER",
        aliases=("CREDIT_CARD_NUMBER_(NO_KEYWORD)",),
        category=Category.FINANCIAL_INFORMATION,
        description="Credit card number (issuer prefix, length and Luhn check)",
        rules=(
            # without a keyword only the common 14-16 digit lengths count; a digit run that is
            # the fraction of a decimal number ("0.4111...") never does
            PatternRule(r"(?:^|[^0-9.,\w])(?:\d[ -]?){13,15}\d\b", check=Check.LUHN_CARD, plain=DIGITS_ONLY),
            PatternRule(
                r"(?:^|[^0-9.,\w])(?:\d[ -]?){11,18}\d\b",
                keyword_required=True,
                check=Check.LUHN_CARD,
                plain=DIGITS_ONLY,
            ),
        ),
        documented=_DOCUMENTED["CREDIT_CARD_NUMBER"],
        extra_keywords=("card no",),
    ),
    ManagedIdentifier(
        id="CREDIT_CARD_EXPIRATION",
        category=Category.FINANCIAL_INFORMATION,
        description="Credit card expiration date (MM/YY, MM/YYYY, MM-YY)",
        rules=(PatternRule(r"\b(?:0[1-9]|1[0-2]) ?[/-] ?(?:20)?\d{2}\b", keyword_required=True),),
        documented=_DOCUMENTED["CREDIT_CARD_EXPIRATION"],
        extra_keywords=("exp", "exp date", "expiration date"),
    ),
    ManagedIdentifier(
        id="CREDIT_CARD_SECURITY_CODE",
        category=Category.FINANCIAL_INFORMATION,
        description="Card verification code (3-4 digits)",
        rules=(PatternRule(r"\b\d{3,4}\b", keyword_required=True),),
        documented=_DOCUMENTED["CREDIT_CARD_SECURITY_CODE"],
        extra_keywords=("security code", "card verification", "verification code", "kartenprüfnummer", "cryptogramme"),
    ),
    ManagedIdentifier(
        id="INTERNATIONAL_BANK_ACCOUNT_NUMBER",
        aliases=("IBAN",),
        category=Category.FINANCIAL_INFORMATION,
        description="IBAN (country length and ISO 7064 mod-97 check)",
        rules=(PatternRule(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", check=Check.IBAN),),
        documented=_DOCUMENTED["INTERNATIONAL_BANK_ACCOUNT_NUMBER"],
    ),
    ManagedIdentifier(
        id="BANK_ACCOUNT_NUMBER",
        category=Category.FINANCIAL_INFORMATION,
        description="Canadian and US bank account number (9-17 digits)",
        rules=(PatternRule(r"\b\d{9,17}\b", keyword_required=True),),
        documented=_DOCUMENTED["BANK_ACCOUNT_NUMBER"],
    ),
    ManagedIdentifier(
        id="UK_BANK_ACCOUNT_NUMBER",
        category=Category.FINANCIAL_INFORMATION,
        description="UK BBAN (bank code, sort code, account number)",
        rules=(
            PatternRule(r"\b[A-Z]{4}(?:[ -]?\d){14}\b", keyword_required=True),
            PatternRule(r"\b\d{2}-\d{2}-\d{2} ?\d{8}\b", keyword_required=True),
        ),
        documented=_DOCUMENTED["UK_BANK_ACCOUNT_NUMBER"],
        extra_keywords=("bban", "acct"),
    ),
    ManagedIdentifier(
        id="GERMANY_BANK_ACCOUNT_NUMBER",
        category=Category.FINANCIAL_INFORMATION,
        description="German BBAN (8-digit BLZ + 10-digit account)",
        rules=(PatternRule(r"\b\d(?:[ -]?\d){17}\b", keyword_required=True),),
        documented=_DOCUMENTED["GERMANY_BANK_ACCOUNT_NUMBER"],
        extra_keywords=("bban", "acct"),
    ),
    ManagedIdentifier(
        id="FRANCE_BANK_ACCOUNT_NUMBER",
        category=Category.FINANCIAL_INFORMATION,
        description="French BBAN / RIB (bank, branch, account, key: 23 characters)",
        rules=(PatternRule(r"\b\d(?:[ -]?\d){9}(?:[ -]?[A-Z0-9]){11}(?:[ -]?\d){2}\b", keyword_required=True),),
        documented=_DOCUMENTED["FRANCE_BANK_ACCOUNT_NUMBER"],
        extra_keywords=("bban", "acct", "compte"),
    ),
    ManagedIdentifier(
        id="SPAIN_BANK_ACCOUNT_NUMBER",
        category=Category.FINANCIAL_INFORMATION,
        description="Spanish BBAN / CCC (20 digits)",
        rules=(PatternRule(r"\b\d(?:[ -]?\d){19}\b", keyword_required=True),),
        documented=_DOCUMENTED["SPAIN_BANK_ACCOUNT_NUMBER"],
        extra_keywords=("bban", "acct", "cuenta"),
    ),
    ManagedIdentifier(
        id="ITALY_BANK_ACCOUNT_NUMBER",
        category=Category.FINANCIAL_INFORMATION,
        description="Italian BBAN (CIN letter, ABI, CAB, 12-character account)",
        rules=(PatternRule(r"\b[A-Z](?:[ -]?\d){10}(?:[ -]?[A-Z0-9]){12}\b", keyword_required=True),),
        documented=_DOCUMENTED["ITALY_BANK_ACCOUNT_NUMBER"],
        extra_keywords=("bban", "acct", "conto"),
    ),
    ManagedIdentifier(
        id="NAME",
        category=Category.PERSONAL_INFORMATION,
        description="Full name: a known first name followed by one or more capitalised names",
        rules=(
            PatternRule(
                # a lowercase word before the run comes with it, so the check sees "rue Anne Roux"
                # as do an abbreviation before it ("C. Ana Luna") and a legal form after it
                # ("Ana Luna S.L."), so the check can tell a street or a company from a person
                rf"(?:^|[^A-Za-z{_UPPER}{_LOWER}'-])(?:[A-Za-z]{{1,4}}\. ?)?(?:[{_LOWER}]{{2,12}} )?"
                rf"(?:{_NAME_WORD})(?: (?:{_NAME_WORD}|[{_UPPER}]\.))*"
                rf" (?:[{_LOWER}]{{1,4}} ){{0,2}}[{_UPPER}][{_UPPER}{_LOWER}'-]+"
                r"(?: (?:[A-Z][A-Za-z]*\.)+[A-Za-z]*\.?| [A-Z]{2,5}\b)?",
                check=Check.NAME,
                # "Anna Maria Rossi", "Élodie Dupont 0042": the match is the words
                plain=rf"^[{_UPPER}][{_LOWER}]+(?: [{_UPPER}][{_LOWER}]+)+(?: [0-9][{_NUMBER_TAIL}]*)?$",
                plain_tail="0123456789 ./:-",
                plain_matches=True,
            ),
        ),
        documented=_DOCUMENTED["NAME"],
    ),
    ManagedIdentifier(
        id="DATE_OF_BIRTH",
        category=Category.PERSONAL_INFORMATION,
        description="Birth date (ISO, European and US numeric forms, month names)",
        rules=(
            PatternRule(
                rf"\b(?:{_YEAR}[-/.]{_MONTH}[-/.]{_DAY}|{_DAY}[-/.]{_MONTH}[-/.]{_YEAR}"
                rf"|{_MONTH}/{_DAY}/{_YEAR}|{_MONTH_NAME}\.? {_DAY},? {_YEAR}"
                rf"|{_DAY}\.? {_MONTH_NAME}\.? {_YEAR})\b",
                keyword_required=True,
            ),
        ),
        documented=_DOCUMENTED["DATE_OF_BIRTH"],
        extra_keywords=("birth", "birthdate", "born"),
    ),
    ManagedIdentifier(
        id="PHONE_NUMBER",
        category=Category.PERSONAL_INFORMATION,
        description="Phone number (international, US, and separated national forms)",
        rules=(
            # E.164 (+ and the country code) needs no keyword, as Macie documents:
            # +49 (0) 374 068124, +1-733-874-0681, +44 161 496 0835
            PatternRule(
                r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d(?:[ .-]?\d){5,13}\b",
                check=Check.PHONE_DIGITS,
            ),
            # every national form needs a keyword: 0044 20 7946 0958 (but not 0.0012345678),
            # (733)874-0681, 733.874.0681, 733-874-0681x241, (0114) 496 0318, 01 23 45 67 89,
            # 0251586834
            PatternRule(
                r"(?:^|[^\w.,])00\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d(?:[ .-]?\d){5,13}\b"
                r"|(?:\(\d{3}\) ?|\b\d{3}[.-])\d{3}[.-]\d{4}(?:\D|$)"
                r"|\(0\d{1,5}\) ?\d{2,4}[ -]?\d{3,6}\b"
                r"|\b0[1-9](?: \d{2}){4}\b|\b0[1-9](?:\.\d{2}){4}\b"
                r"|\b0\d{2,4}[ /-]?\d{3,4}[ -]?\d{3,5}\b|\b\d{10,11}\b",
                keyword_required=True,
                check=Check.PHONE_DIGITS,
                plain=DIGITS_ONLY,
            ),
        ),
        documented=_DOCUMENTED["PHONE_NUMBER"],
    ),
    ManagedIdentifier(
        id="ADDRESS",
        category=Category.PERSONAL_INFORMATION,
        description="Mailing address: a street line followed by a postal-code/locality line",
        rules=(
            # US: 4978 Chapman Bypass\nSanchezfurt, MT 87630
            PatternRule(
                r"\b\d{1,6} [^\n,]+(?:\n|, )[^\n,]+, [A-Z]{2} \d{5}(?:-\d{4})?\b",
                needs=_LINE_BREAKS,
                gate=r", [A-Z]{2} \d{5}(?:-\d{4})?\b",
            ),
            # DE/IT/FR: Patbergallee 8449\n90736 Stollberg ; 78, rue de Voisin\n31861 Legros
            PatternRule(
                rf"[^\n]*\d{{1,5}}[a-z]?(?:,? [^\n]*)?(?:\n|, )\d{{4,5}},? [{_UPPER}]",
                needs=_LINE_BREAKS,
                gate=rf"(?:\n|, )\d{{4,5}},? [{_UPPER}]",
            ),
            # ES: Alameda Teresita Valle 48 Piso 4 \nMálaga, 26778
            PatternRule(
                rf"[^\n]* \d{{1,5}}[^\n]*(?:\n|, )[{_UPPER}][^\n,]*, \d{{5}}\b",
                needs=_LINE_BREAKS,
                gate=r", \d{5}\b",
            ),
            # FR/DE without a house number: boulevard Mallet\n20749 Perrot
            PatternRule(
                rf"[^\n]+\n\d{{4,5}},? [{_UPPER}][^\n]*",
                needs=_LINE_BREAKS,
                gate=rf"\n\d{{4,5}},? [{_UPPER}][^\n]*",
            ),
            # GB: 40 Smart Point\nEast Harrietport\nN8 8HN ; Flat 95E\nConnor Vista\nTurnermouth\nLS41 1PL
            PatternRule(
                r"[^\n]*\d[^\n]*(?:\n[^\n]+){0,3}(?:\n|, )[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b",
                needs=_LINE_BREAKS,
                gate=r"(?:\n|, )[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b",
            ),
            # US military: Unit 5131 Box 3735\nDPO AE 63763
            PatternRule(
                r"[^\n]+(?:\n|, )(?:APO|FPO|DPO) A[AEP] \d{5}\b",
                needs=_LINE_BREAKS,
                gate=r"(?:\n|, )(?:APO|FPO|DPO) A[AEP] \d{5}\b",
            ),
        ),
        documented=_DOCUMENTED["ADDRESS"],
    ),
    ManagedIdentifier(
        id="USA_SOCIAL_SECURITY_NUMBER",
        category=Category.PERSONAL_INFORMATION,
        description="US Social Security number (area/group/serial rules)",
        rules=(
            PatternRule(r"\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b|\b\d{9}\b", True, Check.SSN, plain=DIGITS_ONLY),
        ),
        documented=_DOCUMENTED["USA_SOCIAL_SECURITY_NUMBER"],
    ),
    ManagedIdentifier(
        id="USA_PASSPORT_NUMBER",
        category=Category.PERSONAL_INFORMATION,
        description="US passport number (9 digits, or a letter and 8 digits)",
        rules=(PatternRule(r"\b[A-Z]?\d{8,9}\b", keyword_required=True),),
        documented=_DOCUMENTED["USA_PASSPORT_NUMBER"],
    ),
    ManagedIdentifier(
        id="UK_PASSPORT_NUMBER",
        category=Category.PERSONAL_INFORMATION,
        description="UK passport number (9 digits)",
        rules=(PatternRule(r"\b\d{9}\b", keyword_required=True),),
        documented=_DOCUMENTED["UK_PASSPORT_NUMBER"],
    ),
    ManagedIdentifier(
        id="GERMANY_PASSPORT_NUMBER",
        category=Category.PERSONAL_INFORMATION,
        description="German passport number (9 characters of a restricted alphabet)",
        rules=(PatternRule(r"\b[CFGHJKLMNPRTVWXYZ][CFGHJKLMNPRTVWXYZ0-9]{8}\b", keyword_required=True),),
        documented=_DOCUMENTED["GERMANY_PASSPORT_NUMBER"],
    ),
    ManagedIdentifier(
        id="FRANCE_PASSPORT_NUMBER",
        category=Category.PERSONAL_INFORMATION,
        description="French passport number (2 digits, 2 letters, 5 digits)",
        rules=(PatternRule(r"\b\d{2}[A-Z]{2}\d{5}\b", keyword_required=True),),
        documented=_DOCUMENTED["FRANCE_PASSPORT_NUMBER"],
    ),
    ManagedIdentifier(
        id="AWS_CREDENTIALS",
        category=Category.CREDENTIALS,
        description="AWS access key ID or secret access key near an AWS keyword",
        rules=(
            PatternRule(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", keyword_required=True),
            PatternRule(r"(?:^|[^A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?:[^A-Za-z0-9/+=]|$)", keyword_required=True),
        ),
        documented=_DOCUMENTED["AWS_CREDENTIALS"],
    ),
    ManagedIdentifier(
        id="EMAIL_ADDRESS",
        category=Category.PERSONAL_INFORMATION,
        description="Email address (dcp extension: not a Macie managed identifier)",
        rules=(PatternRule(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b", needs=("@",)),),
        documented=None,
        extra_keywords=("email", "e-mail", "mail"),
    ),
    ManagedIdentifier(
        id="IP_ADDRESS",
        category=Category.PERSONAL_INFORMATION,
        description="IPv4 or IPv6 address (dcp extension: not a Macie managed identifier)",
        rules=(
            PatternRule(
                r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b", needs=(".",)
            ),
            PatternRule(r"\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b", needs=(":",)),
        ),
        documented=None,
        extra_keywords=("ip", "ip address", "ipv4", "ipv6", "client ip", "remote addr"),
    ),
)

_BY_ID: dict[str, ManagedIdentifier] = {}
for _identifier in MANAGED_IDENTIFIERS:
    _BY_ID[_identifier.id] = _identifier
    for _alias in _identifier.aliases:
        _BY_ID[_alias] = _identifier


def managed_identifier(identifier_id: str) -> ManagedIdentifier:
    """The managed identifier with this Macie ID (or alias); KeyError names the valid IDs."""
    try:
        return _BY_ID[identifier_id.upper()]
    except KeyError:
        valid = ", ".join(sorted(i.id for i in MANAGED_IDENTIFIERS))
        raise KeyError(f"unknown managed data identifier {identifier_id!r}; valid IDs: {valid}") from None


def select_managed(identifier_ids: tuple[str, ...] | list[str] | None) -> tuple[ManagedIdentifier, ...]:
    """The identifiers a classification run uses: all when ``identifier_ids`` is None."""
    if identifier_ids is None:
        return MANAGED_IDENTIFIERS
    chosen: dict[str, ManagedIdentifier] = {}
    for identifier_id in identifier_ids:
        identifier = managed_identifier(identifier_id)
        chosen[identifier.id] = identifier
    return tuple(chosen.values())


def canonical_type(type_id: str) -> str:
    """A detected type's canonical spelling: a managed identifier's ID for it or an alias, else upper case."""
    identifier = _BY_ID.get(type_id.upper())
    return identifier.id if identifier else type_id.upper()


def category_of(type_id: str) -> Category:
    """The category of a detected type (custom names fall in CUSTOM_IDENTIFIER)."""
    identifier = _BY_ID.get(type_id.upper())
    return identifier.category if identifier else Category.CUSTOM_IDENTIFIER


#: Macie's recommended set for sensitive data discovery jobs (``managedDataIdentifierSelector:
#: RECOMMENDED``). Source: Amazon Macie User Guide, "Managed data identifiers recommended for
#: sensitive data discovery jobs" (docs.aws.amazon.com/macie/latest/user/discovery-jobs-mdis-recommended.html),
#: read 2026-11-30. The credentials and financial rows and the PII rows up to the driver's licence and
#: electoral roll entries were read from the stored page; the PII rows after them (national IDs,
#: passports, social insurance/security and taxpayer numbers) follow the same page as last published
#: and should be re-checked against it. Note what the set lacks: NAME, DATE_OF_BIRTH, ADDRESS,
#: PHONE_NUMBER, CREDIT_CARD_SECURITY_CODE, CREDIT_CARD_EXPIRATION, CREDIT_CARD_NUMBER_(NO_KEYWORD)
#: and every bank account identifier, so a job on RECOMMENDED does not report them.
RECOMMENDED_MANAGED_IDENTIFIERS: frozenset[str] = frozenset(
    {
        # Credentials
        "AWS_CREDENTIALS",
        "HTTP_BASIC_AUTH_HEADER",
        "OPENSSH_PRIVATE_KEY",
        "PGP_PRIVATE_KEY",
        "PKCS",
        "PUTTY_PRIVATE_KEY",
        # Financial information
        "CREDIT_CARD_MAGNETIC_STRIPE",
        "CREDIT_CARD_NUMBER",
        # Personally identifiable information
        "CANADA_DRIVERS_LICENSE",
        "DRIVERS_LICENSE",
        "UK_DRIVERS_LICENSE",
        "UK_ELECTORAL_ROLL_NUMBER",
        "FRANCE_NATIONAL_IDENTIFICATION_NUMBER",
        "GERMANY_NATIONAL_IDENTIFICATION_NUMBER",
        "ITALY_NATIONAL_IDENTIFICATION_NUMBER",
        "SPAIN_DNI_NUMBER",
        "UK_NATIONAL_INSURANCE_NUMBER",
        "CANADA_PASSPORT_NUMBER",
        "FRANCE_PASSPORT_NUMBER",
        "GERMANY_PASSPORT_NUMBER",
        "ITALY_PASSPORT_NUMBER",
        "SPAIN_PASSPORT_NUMBER",
        "UK_PASSPORT_NUMBER",
        "USA_PASSPORT_NUMBER",
        "CANADA_SOCIAL_INSURANCE_NUMBER",
        "SPAIN_SOCIAL_SECURITY_NUMBER",
        "USA_SOCIAL_SECURITY_NUMBER",
        "AUSTRALIA_TAX_FILE_NUMBER",
        "BRAZIL_CPF_NUMBER",
        "FRANCE_TAX_IDENTIFICATION_NUMBER",
        "GERMANY_TAX_IDENTIFICATION_NUMBER",
        "SPAIN_NIE_NUMBER",
        "SPAIN_NIF_NUMBER",
        "SPAIN_TAX_IDENTIFICATION_NUMBER",
        "UK_TAX_IDENTIFICATION_NUMBER",
        "USA_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
    }
)


def is_macie_managed(type_id: str) -> bool:
    """True when ``type_id`` is (an alias of) one of Macie's own managed identifiers."""
    identifier = _BY_ID.get(type_id.upper())
    return identifier is not None and identifier.macie_managed


MANAGED_SELECTORS = ("ALL", "RECOMMENDED", "INCLUDE", "EXCLUDE", "NONE")


def managed_ids_for_selector(selector: str, identifier_ids: Sequence[str] = ()) -> list[str] | None:
    """The managed identifier IDs a Macie ``managedDataIdentifierSelector`` means (None: all).

    As Macie defines it: ALL uses every managed identifier (here: every one dcp implements),
    RECOMMENDED the documented recommended set (:data:`RECOMMENDED_MANAGED_IDENTIFIERS`),
    INCLUDE only ``identifier_ids``, EXCLUDE all but ``identifier_ids``, NONE none (custom
    identifiers only). IDs dcp does not implement are skipped: a detector cannot run without
    its rules.
    """
    chosen = {_BY_ID[i.upper()].id for i in identifier_ids if i.upper() in _BY_ID}
    if selector == "ALL":
        return None
    if selector == "RECOMMENDED":
        return [i.id for i in MANAGED_IDENTIFIERS if i.id in RECOMMENDED_MANAGED_IDENTIFIERS]
    if selector == "INCLUDE":
        return [i.id for i in MANAGED_IDENTIFIERS if i.id in chosen]
    if selector == "EXCLUDE":
        return [i.id for i in MANAGED_IDENTIFIERS if i.id not in chosen]
    if selector == "NONE":
        return []
    raise ValueError(f"unknown managedDataIdentifierSelector {selector!r}; one of {', '.join(MANAGED_SELECTORS)}")

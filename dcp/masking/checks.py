"""Validators run on regex matches: Luhn, IBAN mod-97, SSN rules, phone digit counts, names.

Each check takes a string array of matched texts (no nulls) and returns a boolean array.
The numeric checks are vectorised with pyarrow.compute over the character positions of a
fixed-width view of the column, so a column of a million card numbers is validated without a
Python loop over rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dcp.masking.identifiers import Check

# Issuer (IIN) ranges and lengths of the card brands Macie and Faker produce.
_CARD_PREFIX = (
    r"^(?:4\d{12}(?:\d{3}){0,2}"  # Visa 13/16/19
    r"|5[1-5]\d{14}"  # Mastercard
    r"|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)\d{12}"  # Mastercard 2-series
    r"|3[47]\d{13}"  # American Express
    r"|3(?:0[0-5]|[68]\d)\d{11,16}"  # Diners Club
    r"|6(?:011|5\d\d|4[4-9]\d)\d{12,15}"  # Discover
    r"|35\d{14,17}"  # JCB, 16-19 digits (Faker uses the whole 35 range; a 15-digit IMEI is no card)
    r"|(?:5018|5020|5038|5[6-8]\d\d|6304|6390|6759|676[1-3]|0604)\d{8,15}"  # Maestro
    r")$"
)

# ISO 13616 IBAN lengths by country.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def _byte_matrix(values: pa.Array, width: int, *, right: bool = True) -> np.ndarray:
    """The bytes of ``values`` padded to ``width`` (zeros on the left, or spaces on the right) as a rows x width matrix.

    A view of the padded strings' buffer: no copy per cell.
    """
    pad = pc.utf8_lpad if right else pc.utf8_rpad
    fixed = pad(values, width=width, padding="0" if right else " ").cast(pa.binary(width))
    matrix = np.frombuffer(fixed.buffers()[1], dtype=np.uint8, count=len(fixed) * width, offset=fixed.offset * width)
    return matrix.reshape(-1, width)


def _digits_only(values: pa.Array) -> pa.Array:
    if pc.all(pc.ascii_is_decimal(values)).as_py():  # a column of bare numbers needs no regex pass
        return values
    return pc.replace_substring_regex(values, pattern=r"[^0-9]", replacement="")


def _mask(array: pa.Array) -> list[bool]:
    return [bool(v) for v in array.fill_null(False).to_pylist()]


#: Luhn terms mod 10 by byte, for the undoubled and the doubled positions ("7" -> 7 and 14 - 9 = 5)
_LUHN_DIGIT = np.arange(256, dtype=np.int32) - 48
_LUHN_PLAIN = (_LUHN_DIGIT % 10).astype(np.uint8)
_LUHN_DOUBLED = ((2 * _LUHN_DIGIT - 9 * (2 * _LUHN_DIGIT > 9)) % 10).astype(np.uint8)


def luhn_valid(digits: pa.Array) -> pa.BooleanArray:
    """Luhn checksum over strings of at most 19 digits, vectorised over the column.

    The digits, left-padded with zeros to 19, are viewed as a rows x 19 byte matrix (no copy
    per cell); each position's term (mod 10) is looked up from its byte, and the 19 terms
    (at most 19 x 9) summed in a byte per row.
    """
    if len(digits) == 0:
        return pa.array([], pa.bool_())
    matrix = _same_width_matrix(digits)
    if matrix is None:  # left zeros add nothing to the sum
        matrix = _byte_matrix(digits.fill_null(""), 19)
    width = matrix.shape[1]
    total = np.zeros(len(matrix), dtype=np.uint8)
    for position in range(width):
        # from the right, every second digit is doubled (and 9 taken off a two-digit result)
        terms = _LUHN_DOUBLED if (width - 1 - position) % 2 else _LUHN_PLAIN
        total += terms[matrix[:, position]]
    return pa.array(total % 10 == 0, pa.bool_())


def _same_width_matrix(values: pa.Array, widest: int = 19) -> np.ndarray | None:
    """The bytes of ``values`` as a rows x width matrix when every value has the same width (a
    view of the data buffer: no padding pass), at most ``widest``; None otherwise or with nulls."""
    if values.null_count or not pa.types.is_string(values.type):
        return None
    offsets_buffer, data = values.buffers()[1:3]
    if offsets_buffer is None or data is None:
        return None
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[values.offset : values.offset + len(values) + 1]
    width = int(offsets[1] - offsets[0])
    if not 0 < width <= widest or int(offsets[-1] - offsets[0]) != width * len(values):
        return None
    if not np.all(np.diff(offsets) == width):
        return None
    return np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(len(values), width)


def check_card(values: pa.Array) -> pa.BooleanArray:
    digits = _digits_only(values)
    lengths = pc.utf8_length(digits)
    ok = pc.and_(pc.greater_equal(lengths, 12), pc.less_equal(lengths, 19))
    ok = pc.and_(ok, pc.match_substring_regex(digits, _CARD_PREFIX))
    if not pc.any(ok).as_py():
        return ok
    # too-long runs were rejected above; clipping keeps the digit matrix 19 wide
    if pc.max(lengths).as_py() > 19:
        digits = pc.utf8_slice_codeunits(digits, start=-19)
    return pc.and_(ok, luhn_valid(digits))


def iban_valid(values: pa.Array) -> pa.BooleanArray:
    """IBAN structure (country, length) and ISO 7064 mod-97 = 1, vectorised."""
    compact = pc.utf8_upper(pc.replace_substring(values, pattern=" ", replacement=""))
    countries = pc.utf8_slice_codeunits(compact, start=0, stop=2)
    want = pc.take(
        pa.array(list(IBAN_LENGTHS.values()), pa.int64()),
        pc.index_in(countries, value_set=pa.array(list(IBAN_LENGTHS))),
    )
    ok = pc.fill_null(pc.equal(pc.utf8_length(compact).cast(pa.int64()), want), False)
    if not pc.any(ok).as_py():
        return ok
    # move the country code and check digits to the end, then fold left to right mod 97
    rearranged = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(compact, start=4), pc.utf8_slice_codeunits(compact, start=0, stop=4), ""
    )
    rearranged = pc.if_else(ok, rearranged, "0000")
    remainder = np.zeros(len(values), dtype=np.int32)
    for column in _byte_matrix(rearranged, 34, right=False).T:
        remainder = (remainder * _IBAN_SHIFT[column] + _IBAN_VALUE[column]) % 97
    return pc.and_(ok, pa.array(remainder == 1))


# mod-97 folding by byte: a digit shifts the remainder one decimal place, a letter (A=10 ... Z=35)
# two; any other byte (the padding) leaves it as it is
_IBAN_BYTES = np.arange(256, dtype=np.int32)
_IBAN_DIGIT = (_IBAN_BYTES >= 48) & (_IBAN_BYTES <= 57)
_IBAN_LETTER = (_IBAN_BYTES >= 65) & (_IBAN_BYTES <= 90)
_IBAN_SHIFT = np.where(_IBAN_DIGIT, 10, np.where(_IBAN_LETTER, 100, 1)).astype(np.int32)
_IBAN_VALUE = np.where(_IBAN_DIGIT, _IBAN_BYTES - 48, np.where(_IBAN_LETTER, _IBAN_BYTES - 55, 0)).astype(np.int32)


def ssn_valid(values: pa.Array) -> pa.BooleanArray:
    """SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    digits = _digits_only(values)
    bad = pc.match_substring_regex(digits, r"^(?:000|666|9\d\d)|^\d{3}00|0000$")
    return pc.and_(pc.invert(bad), pc.equal(pc.utf8_length(digits), 9))


def phone_digits_valid(values: pa.Array) -> pa.BooleanArray:
    """7 to 15 digits (E.164 allows at most 15)."""
    lengths = pc.utf8_length(_digits_only(values))
    return pc.and_(pc.greater_equal(lengths, 7), pc.less_equal(lengths, 15))


@cache
def first_names() -> frozenset[str]:
    """Lower-cased first names from Faker's person providers for the locales dcp samples."""
    from importlib import import_module

    names: set[str] = set()
    for locale in _LOCALES:
        provider = import_module(f"faker.providers.person.{locale}").Provider
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            pool = getattr(provider, attribute, ())
            names.update(str(name).lower() for name in pool)
    return frozenset(names)


def name_valid(values: pa.Array) -> pa.BooleanArray:
    """A run of capitalised words is a name when one of its words but the last is a known first name.

    A run that holds a street, company or place word (``rue``, ``Via``, ``GmbH``, ``PLC``,
    ``San``, ``and``: see :func:`not_name_words`) is a street, company or place, not a person.
    """
    lowered = pc.utf8_lower(values)
    trimmed = pc.utf8_ltrim(lowered, characters=_NOT_NAME)
    first_token = pc.struct_field(pc.extract_regex(trimmed, r"^(?P<t>[^ .-]+)"), "t")
    ok = _member(first_token, _known_names_array)
    if not pc.all(ok).as_py():
        # the runs whose first word is no first name: is any other word but the last one?
        retry = pc.invert(ok)
        ok = pc.replace_with_mask(ok, retry, _some_word_but_last_known(pc.filter(trimmed, retry)))
    if not pc.any(ok).as_py():
        return ok
    not_name = pc.or_(
        pc.match_substring_regex(lowered, f"{_not_name_regex()}|{_STREET_ABBREVIATION}"),
        _member(pc.utf8_trim(lowered, characters=_NOT_NAME), _places_array),
    )
    return pc.and_(ok, pc.invert(not_name))


#: a street-type abbreviation before the run: "C. Ana Luna", "Av. Jean Jaurès"
_STREET_ABBREVIATION = r"^[^\w]*(?:c|av|avda|pza|pl|str|bd|bld)\. "


def _some_word_but_last_known(texts: pa.Array) -> pa.BooleanArray:
    """Per text: is a word other than the last (or a part of a hyphenated one) a known first name?"""
    heads = pc.replace_substring_regex(pc.utf8_rtrim(texts, characters=_NOT_NAME), r" +[^ ]*$", "")
    words = pc.split_pattern_regex(heads, r"[ .-]+")
    known = _member(pc.utf8_trim(pc.list_flatten(words), characters="."), _known_names_array)
    owners = pc.filter(pc.list_parent_indices(words), known)
    return pc.is_in(pa.array(range(len(texts)), owners.type), value_set=owners)


@cache
def not_name_words() -> frozenset[str]:
    """Words that make a capitalised run a street, company or place name, unless they are person names.

    Faker's street prefixes/suffixes, city prefixes and company suffixes of the locales dcp
    samples, and the common legal forms, conjunctions, saints' and institutions' words; minus
    every first and last name those locales know ("Hill" and "Park" stay names).
    """
    from importlib import import_module

    words = set(_NOT_NAME_WORDS)
    people: set[str] = set(first_names())
    for locale in _LOCALES:
        pools = []
        for family, attributes in _NOT_NAME_POOLS.items():
            try:
                provider = import_module(f"faker.providers.{family}.{locale}").Provider
            except ModuleNotFoundError:  # Faker has no such provider for this locale
                continue
            pools += [getattr(provider, attribute, ()) for attribute in attributes]
        person = import_module(f"faker.providers.person.{locale}").Provider
        for pool in pools:
            for entry in pool:
                words.update(w.strip(".,") for w in str(entry).lower().split() if len(w.strip(".,")) > 1)
        for attribute in ("last_names", "last_names_male", "last_names_female"):
            people.update(str(name).lower() for name in getattr(person, attribute, ()))
    return frozenset(w for w in words if w not in people)


_NOT_NAME_WORDS = (
    *("and", "und", "et", "y", "e", "&", "of", "for"),
    *("gmbh", "ag", "kg", "ohg", "sa", "sarl", "sas", "ltd", "llc", "inc", "plc", "spa", "srl", "sl", "coop", "co"),
    *("group", "groupe", "gruppo", "grupo", "sons", "söhne", "fils", "figli", "hijos", "partners", "associates"),
    *("san", "santa", "santo", "saint", "sainte", "st", "sankt", "al", "rione", "mare", "terme", "lido", "bagni"),
    *("rue", "avenue", "boulevard", "chemin", "allée", "impasse", "place", "quai", "route", "via", "viale"),
    *("piazza", "vicolo", "corso", "largo", "calle", "avenida", "paseo", "camino", "plaza", "ronda", "rambla"),
    *("street", "road", "lane", "drive"),
    *("national", "nationale", "nazionale", "nacional", "royal", "royale", "bank", "banque", "club", "hotel"),
    *("university", "université", "universidad", "università"),
)
_NOT_NAME_POOLS = {"address": ("street_prefixes", "street_suffixes", "city_prefixes"), "company": ("company_suffixes",)}
_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_PT")


@cache
def _places_array() -> pa.Array:
    """Place names Faker knows for the locales dcp samples ("Marina Di Massa" is a town)."""
    from importlib import import_module

    places: set[str] = set()
    for locale in _LOCALES:
        provider = import_module(f"faker.providers.address.{locale}").Provider
        for attribute in ("cities", "places"):
            places.update(str(place).lower() for place in getattr(provider, attribute, ()))
    return pa.array(sorted(places))


@cache
def _not_name_regex() -> str:
    words = "|".join(re.escape(w) for w in sorted(not_name_words(), key=len, reverse=True))
    return rf"(?:^|[^\w])(?:{words})(?:[^\w]|$)"


_NOT_NAME = " \t\r\n,;:()[]{}\"'/|"


@cache
def _known_names_array() -> pa.Array:
    return pa.array(sorted(first_names()))


#: up to this many values, membership is looked up in a Python set: Arrow's is_in hashes its
#: whole value set (20,000 places) on every call, ~0.7 ms, more than the look-ups of a few cells
SMALL_MEMBERSHIP = 2048


@cache
def _as_set(pool: Callable[[], pa.Array]) -> frozenset[str]:
    return frozenset(pool().to_pylist())


def _member(values: pa.Array, pool: Callable[[], pa.Array]) -> pa.BooleanArray:
    """Whether each value is in ``pool()``; a null is not."""
    if len(values) <= SMALL_MEMBERSHIP:
        members = _as_set(pool)
        return pa.array([value in members for value in values.to_pylist()], pa.bool_())
    return pc.fill_null(pc.is_in(values, value_set=pool()), False)


CHECKS: dict[Check, Callable[[pa.Array], pa.BooleanArray]] = {
    Check.LUHN_CARD: check_card,
    Check.IBAN: iban_valid,
    Check.SSN: ssn_valid,
    Check.PHONE_DIGITS: phone_digits_valid,
    Check.NAME: name_valid,
}


def run_check(check: Check, values: pa.Array) -> pa.BooleanArray:
    """Apply ``check`` to matched texts; Check.NONE accepts everything."""
    if check is Check.NONE:
        return pa.repeat(True, len(values))
    return CHECKS[check](values)

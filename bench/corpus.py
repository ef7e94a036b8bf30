"""A labelled corpus for detection: personal data in several locales beside the look-alikes real tables hold.

Every table is a pyarrow table with a label per column: the set of detected types (Macie IDs,
or dcp's EMAIL_ADDRESS / IP_ADDRESS) that column truly holds; an empty set is a column with no
personal data. The look-alikes are the identifier-shaped values that are not personal data:
order and invoice numbers, product and article codes, ISBNs and EANs, tracking numbers, IMEIs,
hashes and UUIDs, coordinates, amounts, counts, timestamps and dates that are no birth dates,
company, product and street names, and free-text comments without personal data. The personal
data comes from Faker in LOCALES, with column names a real schema would use.

``score`` compares predicted (table, column, type) triples with the labels, per identifier and
over all columns. Faker is slow, so values are drawn from per-locale pools (cached) with a
seeded ``random.Random``: the same seed always gives the same corpus.
"""

from __future__ import annotations

import random
import string
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache

import pyarrow as pa
from faker import Faker

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT")
POOL = 200  # Faker values per locale and kind


@dataclass(frozen=True)
class LabelledTable:
    name: str
    table: pa.Table
    labels: dict[str, frozenset[str]]


def _faker(locale: str, kind: str, seed: int) -> Faker:
    """A Faker of its own per pool: a shared instance would make each pool depend on which pools
    the process drew before (the corpus would change with the order tests run in)."""
    fake = Faker(locale)
    fake.seed_instance(zlib.crc32(f"{locale}/{kind}/{seed}".encode()))
    # Some locales build a word list from a set (it_IT's `cities = list({...})`), so its order, and
    # the values a seeded Faker draws from it, follow PYTHONHASHSEED: sort such lists.
    for provider in fake.get_providers():
        for attr in ("cities", "street_names", "countries", "states"):
            words = getattr(provider, attr, None)
            if isinstance(words, list) and all(isinstance(w, str) for w in words):
                setattr(provider, attr, sorted(words))
    return fake


@cache
def _pool(locale: str, kind: str, seed: int) -> tuple[str, ...]:
    fake = _faker(locale, kind, seed)
    make: Callable[[], object] = {
        "name": fake.name,
        "first_last": lambda: f"{fake.first_name()} {fake.last_name()}",
        "email": fake.email,
        "phone": fake.phone_number,
        "address": fake.address,
        "street": fake.street_name,
        "city": fake.city,
        "company": fake.company,
        "iban": fake.iban,
        "bban": fake.bban,
        "job": fake.job,
    }[kind]
    return tuple(str(make()) for _ in range(POOL))


def _luhn_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return str((10 - total % 10) % 10)


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choices(string.digits, k=count))


def _isbn13(rng: random.Random) -> str:
    body = "978" + _digits(rng, 9)
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    text = body + str(check)
    return text if rng.random() < 0.5 else f"{text[:3]}-{text[3]}-{text[4:8]}-{text[8:12]}-{text[12]}"


def _ean13(rng: random.Random) -> str:
    body = rng.choice(("400", "300", "500", "800", "841")) + _digits(rng, 9)
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    return body + str(check)


def _imei(rng: random.Random) -> str:
    body = rng.choice(("35", "86", "01", "99")) + _digits(rng, 12)
    return body + _luhn_digit(body)


def _tracking(rng: random.Random) -> str:
    alnum = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
    kind = rng.randrange(4)
    if kind == 0:
        return "1Z" + "".join(rng.choices(alnum, k=16))  # UPS
    if kind == 1:
        return _digits(rng, 10)  # DHL Express
    if kind == 2:
        usps = "9400" + _digits(rng, 18)  # USPS, printed in groups of four
        return " ".join(usps[i : i + 4] for i in range(0, 22, 4))
    return "JJD" + _digits(rng, 18)  # DHL parcel


def _day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days))


def _date_text(rng: random.Random, day: date) -> str:
    return rng.choice((day.isoformat(), day.strftime("%d/%m/%Y"), day.strftime("%m/%d/%Y"), day.strftime("%d.%m.%Y")))


def _timestamp(rng: random.Random) -> str:
    moment = datetime(2023, 1, 1) + timedelta(seconds=rng.randrange(2 * 365 * 86400))
    return rng.choice((moment.isoformat(sep=" "), moment.isoformat() + "Z", moment.strftime("%d/%m/%Y %H:%M")))


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice((("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16)))
    body = prefix + _digits(rng, length - len(prefix) - 1)
    number = body + _luhn_digit(body)
    if rng.random() < 0.3:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


def _ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


_PRODUCT_WORDS = ("Deluxe", "Compact", "Premium", "Classic", "Portable", "Smart", "Ultra", "Eco", "Pro", "Mini")
_PRODUCT_NOUNS = ("Toaster", "Kettle", "Blender", "Lamp", "Backpack", "Speaker", "Monitor", "Drill", "Chair", "Router")
_PLAIN_COMMENTS = (
    "Order {a} shipped in {b} boxes from warehouse {w}",
    "Customer asked for a refund of {c} EUR on ticket #{a}",
    "Batch {a}-{b} passed QA at {h}:{m}",
    "Invoice INV-{a} due in {b} days, total {c}",
    "Restocked {b} units of SKU-{a} on {d}",
    "Price changed from {c} to {e}",
    "Delivery delayed by {b} days because of weather",
    "Return label sent, tracking {t}",
    "Moved pallet {a} to aisle {b}, shelf {w}",
    "Meeting on {d} about Q{b} targets",
)


def _plain_comment(rng: random.Random) -> str:
    return rng.choice(_PLAIN_COMMENTS).format(
        a=rng.randint(1000, 999999),
        b=rng.randint(1, 9),
        c=f"{rng.uniform(1, 900):.2f}",
        e=f"{rng.uniform(1, 900):.2f}",
        d=_day(rng, date(2023, 1, 1), date(2024, 12, 31)).isoformat(),
        h=rng.randint(0, 23),
        m=f"{rng.randint(0, 59):02d}",
        w=rng.choice("ABCDEFGH"),
        t=_tracking(rng),
    )


def _column(rng: random.Random, rows: int, make: Callable[[random.Random], object]) -> list[object]:
    return [make(rng) for _ in range(rows)]


def _from(pool: tuple[str, ...]) -> Callable[[random.Random], str]:
    return lambda rng: rng.choice(pool)


def _table(
    name: str,
    rows: int,
    rng: random.Random,
    columns: dict[str, tuple[Callable[[random.Random], object], Iterable[str]]],
) -> LabelledTable:
    data = {column: pa.array(_column(rng, rows, make)) for column, (make, _) in columns.items()}
    labels = {column: frozenset(types) for column, (_, types) in columns.items()}
    return LabelledTable(name, pa.table(data), labels)


def _people(locale: str, rows: int, seed: int) -> LabelledTable:
    rng = random.Random(f"people-{locale}-{seed}")
    return _table(
        f"people_{locale.lower()}",
        rows,
        rng,
        {
            "customer_no": (lambda r: f"C{r.randint(100000, 999999)}", ()),
            "full_name": (_from(_pool(locale, "name", seed)), ("NAME",)),
            "email": (_from(_pool(locale, "email", seed)), ("EMAIL_ADDRESS",)),
            "phone": (_from(_pool(locale, "phone", seed)), ("PHONE_NUMBER",)),
            "date_of_birth": (
                lambda r: _date_text(r, _day(r, date(1940, 1, 1), date(2006, 12, 31))),
                ("DATE_OF_BIRTH",),
            ),
            "postal_address": (_from(_pool(locale, "address", seed)), ("ADDRESS",)),
            "city": (_from(_pool(locale, "city", seed)), ()),
            "signup_date": (lambda r: _date_text(r, _day(r, date(2015, 1, 1), date(2024, 12, 31))), ()),
            "job_title": (_from(_pool(locale, "job", seed)), ()),
            "loyalty_points": (lambda r: r.randint(0, 50000), ()),
        },
    )


def _payments(locale: str, rows: int, seed: int) -> LabelledTable:
    rng = random.Random(f"payments-{locale}-{seed}")
    return _table(
        f"payments_{locale.lower()}",
        rows,
        rng,
        {
            "payment_id": (lambda r: f"PAY-{r.randint(10**9, 10**10 - 1)}", ()),
            "card_number": (_card, ("CREDIT_CARD_NUMBER",)),
            "card_expiry": (lambda r: f"{r.randint(1, 12):02d}/{r.randint(25, 32)}", ("CREDIT_CARD_EXPIRATION",)),
            "cvv": (lambda r: f"{r.randint(0, 999):03d}", ("CREDIT_CARD_SECURITY_CODE",)),
            "iban": (_from(_pool(locale, "iban", seed)), ("INTERNATIONAL_BANK_ACCOUNT_NUMBER",)),
            "amount": (lambda r: f"{r.uniform(1, 5000):.2f}", ()),
            "currency": (lambda r: r.choice(("EUR", "USD", "GBP")), ()),
            "paid_at": (_timestamp, ()),
        },
    )


def _us_identity(rows: int, seed: int) -> LabelledTable:
    rng = random.Random(f"us-{seed}")
    return _table(
        "us_identity",
        rows,
        rng,
        {
            "ssn": (_ssn, ("USA_SOCIAL_SECURITY_NUMBER",)),
            "passport_number": (
                lambda r: r.choice(("", "A", "C")) + _digits(r, 9 if r.random() < 0.5 else 8),
                ("USA_PASSPORT_NUMBER",),
            ),
            "bank_account_number": (lambda r: _digits(r, r.randint(9, 14)), ("BANK_ACCOUNT_NUMBER",)),
            "employee_no": (lambda r: _digits(r, 9), ()),
            "hired_on": (lambda r: _day(r, date(2000, 1, 1), date(2024, 12, 31)).isoformat(), ()),
        },
    )


def _comments(rows: int, seed: int) -> LabelledTable:
    rng = random.Random(f"comments-{seed}")

    def with_pii(r: random.Random) -> str:
        locale = r.choice(LOCALES)
        kind = r.randrange(3)
        if kind == 0:
            return (
                f"Please call back {r.choice(_pool(locale, 'first_last', seed))} about order {r.randint(1000, 99999)}"
            )
        if kind == 1:
            return f"Customer wrote from {r.choice(_pool(locale, 'email', seed))} asking for an invoice copy"
        return (
            f"Reached {r.choice(_pool(locale, 'first_last', seed))} by email {r.choice(_pool(locale, 'email', seed))}"
        )

    return _table(
        "support_comments",
        rows,
        rng,
        {
            "ticket": (lambda r: f"#{r.randint(10000, 99999)}", ()),
            "comment": (with_pii, ("NAME", "EMAIL_ADDRESS")),
            "internal_note": (_plain_comment, ()),
            "created_at": (_timestamp, ()),
        },
    )


def _access_log(rows: int, seed: int) -> LabelledTable:
    rng = random.Random(f"log-{seed}")
    return _table(
        "access_log",
        rows,
        rng,
        {
            "client_ip": (lambda r: ".".join(str(r.randint(1, 254)) for _ in range(4)), ("IP_ADDRESS",)),
            "path": (lambda r: f"/api/v{r.randint(1, 3)}/orders/{r.randint(1, 99999)}", ()),
            "status": (lambda r: r.choice((200, 201, 204, 301, 404, 500)), ()),
            "bytes": (lambda r: r.randint(100, 10**7), ()),
            "logged_at": (_timestamp, ()),
            "version": (lambda r: f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)}", ()),
        },
    )


def _orders(rows: int, seed: int) -> LabelledTable:
    rng = random.Random(f"orders-{seed}")
    return _table(
        "orders",
        rows,
        rng,
        {
            "order_number": (
                lambda r: r.choice((f"ORD-{r.randint(2019, 2024)}-{r.randint(1, 999999):06d}", _digits(r, 10))),
                (),
            ),
            "invoice_number": (
                lambda r: r.choice(
                    (f"INV-{r.randint(2019, 2024)}{r.randint(1, 99999):05d}", f"{r.randint(2019, 2024)}{_digits(r, 8)}")
                ),
                (),
            ),
            "order_date": (lambda r: _date_text(r, _day(r, date(2019, 1, 1), date(2024, 12, 31))), ()),
            "delivery_date": (lambda r: _day(r, date(2019, 1, 1), date(2025, 6, 30)).isoformat(), ()),
            "amount": (lambda r: f"{r.uniform(1, 99999):.2f}", ()),
            "quantity": (lambda r: r.randint(1, 500), ()),
            "status": (lambda r: r.choice(("pending", "paid", "shipped", "delivered", "returned")), ()),
            "customer_ref": (lambda r: f"CUST{_digits(r, 8)}", ()),
        },
    )


def _catalog(rows: int, seed: int) -> LabelledTable:
    rng = random.Random(f"catalog-{seed}")
    companies = tuple(c for locale in LOCALES for c in _pool(locale, "company", seed))
    return _table(
        "catalog",
        rows,
        rng,
        {
            "article_number": (lambda r: _digits(r, 8), ()),
            "product_code": (
                lambda r: f"{r.choice('ABCDEFGHJK')}{r.choice('LMNPRSTUVW')}-{_digits(r, 4)}-{r.choice('XYZ')}",
                (),
            ),
            "isbn": (_isbn13, ()),
            "ean": (_ean13, ()),
            "product_name": (
                lambda r: f"{r.choice(_PRODUCT_WORDS)} {r.choice(_PRODUCT_NOUNS)} {r.randint(100, 9000)}",
                (),
            ),
            "manufacturer": (lambda r: r.choice(companies), ()),
            "price": (lambda r: round(r.uniform(1, 999), 2), ()),
            "stock": (lambda r: r.randint(0, 5000), ()),
        },
    )


def _logistics(rows: int, seed: int) -> LabelledTable:
    rng = random.Random(f"logistics-{seed}")
    streets = tuple(s for locale in LOCALES for s in _pool(locale, "street", seed))
    cities = tuple(s for locale in LOCALES for s in _pool(locale, "city", seed))
    return _table(
        "logistics",
        rows,
        rng,
        {
            "tracking_number": (_tracking, ()),
            "device_imei": (_imei, ()),
            "latitude": (lambda r: f"{r.uniform(-90, 90):.6f}", ()),
            "longitude": (lambda r: f"{r.uniform(-180, 180):.6f}", ()),
            "position": (lambda r: f"{r.uniform(35, 60):.5f}, {r.uniform(-10, 30):.5f}", ()),
            "depot_street": (lambda r: r.choice(streets), ()),
            "depot_city": (lambda r: r.choice(cities), ()),
            "weight_kg": (lambda r: round(r.uniform(0.1, 30), 3), ()),
            "scanned_at": (_timestamp, ()),
        },
    )


def _events(rows: int, seed: int) -> LabelledTable:
    rng = random.Random(f"events-{seed}")
    return _table(
        "events",
        rows,
        rng,
        {
            "event_id": (lambda r: f"{r.getrandbits(128):032x}", ()),
            "uuid": (lambda r: "-".join(f"{r.getrandbits(b * 4):0{b}x}" for b in (8, 4, 4, 4, 12)), ()),
            "commit_sha": (lambda r: f"{r.getrandbits(160):040x}", ()),
            "payload_sha256": (lambda r: f"{r.getrandbits(256):064x}", ()),
            "epoch_ms": (lambda r: 1_672_531_200_000 + r.randrange(63_072_000_000), ()),
            "duration_ms": (lambda r: r.randint(1, 120_000), ()),
            "session_token": (lambda r: "".join(r.choices(string.ascii_letters + string.digits + "/+", k=40)), ()),
            "occurred_at": (_timestamp, ()),
        },
    )


def _ledger(rows: int, seed: int) -> LabelledTable:
    rng = random.Random(f"ledger-{seed}")
    return _table(
        "ledger",
        rows,
        rng,
        {
            "entry_no": (lambda r: r.randint(1, 10**7), ()),
            "gl_account": (lambda r: f"{r.randint(1000, 9999)}-{r.randint(100, 999)}", ()),
            "cost_center": (lambda r: f"CC{r.randint(100, 999)}", ()),
            "posting_date": (lambda r: _date_text(r, _day(r, date(2018, 1, 1), date(2024, 12, 31))), ()),
            "debit": (lambda r: f"{r.uniform(0, 10**6):.2f}", ()),
            "credit": (lambda r: f"{r.uniform(0, 10**6):.2f}", ()),
            "reference": (lambda r: f"REF {r.randint(2018, 2024)} {_digits(r, 4)} {_digits(r, 4)}", ()),
            "fiscal_period": (lambda r: f"{r.randint(1, 12):02d}/{r.randint(2018, 2024)}", ()),
        },
    )


def generate_corpus(rows: int, seed: int = 0) -> list[LabelledTable]:
    """The corpus: PII tables in every locale of LOCALES and the look-alike tables, ``rows`` rows each."""
    tables = [_people(locale, rows, seed) for locale in LOCALES]
    tables += [_payments(locale, rows, seed) for locale in LOCALES[:4]]
    tables += [_us_identity(rows, seed), _comments(rows, seed), _access_log(rows, seed)]
    tables += [
        _orders(rows, seed),
        _catalog(rows, seed),
        _logistics(rows, seed),
        _events(rows, seed),
        _ledger(rows, seed),
    ]
    return tables


@dataclass
class Score:
    """Column-level counts: a (table, column, type) triple is one prediction or one label."""

    true_positive: int = 0
    false_negative: int = 0
    false_positive: int = 0
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        found = self.true_positive + self.false_negative
        return self.true_positive / found if found else 1.0

    @property
    def precision(self) -> float:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else 1.0


#: types a column's values are also valid examples of, so reporting them is neither right nor
#: wrong: a 9-digit US passport number is a well-formed UK one (C and 8 digits a German one),
#: and the column is named "passport"
ALSO_VALID: dict[tuple[str, str], frozenset[str]] = {
    ("us_identity", "passport_number"): frozenset({"UK_PASSPORT_NUMBER", "GERMANY_PASSPORT_NUMBER"}),
    # random 9-14 digit account numbers include well-formed 14-digit Diners Club numbers (prefix
    # 36/38/300-305, Luhn-valid): a card number without a keyword, to Macie as to dcp
    ("us_identity", "bank_account_number"): frozenset({"CREDIT_CARD_NUMBER"}),
}


def score(corpus: list[LabelledTable], predicted: set[tuple[str, str, str]]) -> tuple[Score, dict[str, Score]]:
    """Overall and per-type scores of predicted (table, column, type) triples against the labels."""
    overall = Score()
    per_type: dict[str, Score] = {}
    expected = {(t.name, column, type_) for t in corpus for column, types in t.labels.items() for type_ in types}
    judged = {p for p in predicted if p[2] not in ALSO_VALID.get((p[0], p[1]), frozenset())}
    for triple in sorted(expected | judged):
        where = f"{triple[0]}.{triple[1]}:{triple[2]}"
        for bucket in (overall, per_type.setdefault(triple[2], Score())):
            if triple in expected and triple in judged:
                bucket.true_positive += 1
            elif triple in expected:
                bucket.false_negative += 1
                bucket.misses.append(where)
            else:
                bucket.false_positive += 1
                bucket.false_alarms.append(where)
    return overall, per_type

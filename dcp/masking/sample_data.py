"""Synthetic tables for the whole project: the three PII sample tables and PII-free decoys.

``customer``, ``bank`` and ``card`` have the columns of the original AWS sample (``mail``,
``iban``, ``card_number``, ...). Decoy tables (``orders``, ``products``, ``notes``, ``events``,
``metrics``, ``shipments``) hold data that looks numeric or personal at a glance (order ids,
SKUs, timestamps, prices, free text with numbers, commit hashes) but contains no PII; the
detector's precision is measured on them.

Faker is slow, so each table draws from pools of a few thousand Faker values (several
locales) and combines them with a seeded ``random.Random``: a million rows take seconds, and
the same seed always gives the same table. ``id`` columns are unique.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import date
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker

PII_TABLES = ("customer", "bank", "card")
DECOY_TABLES = ("orders", "products", "notes", "events", "metrics", "shipments")
LOCALES = ("en_US", "de_DE", "fr_FR", "en_GB")
POOL_SIZE = 5000

#: the PII each sample table holds, by column (Macie IDs; BBAN columns may hold any country's)
EXPECTED_TYPES: dict[str, dict[str, frozenset[str]]] = {
    "customer": {
        "name": frozenset({"NAME"}),
        "mail": frozenset({"EMAIL_ADDRESS"}),
        "birthdate": frozenset({"DATE_OF_BIRTH"}),
    },
    "bank": {
        "account_number": frozenset({"account_number"}),
        "iban": frozenset({"INTERNATIONAL_BANK_ACCOUNT_NUMBER"}),
        "bban": frozenset(
            {
                "UK_BANK_ACCOUNT_NUMBER",
                "GERMANY_BANK_ACCOUNT_NUMBER",
                "FRANCE_BANK_ACCOUNT_NUMBER",
                "SPAIN_BANK_ACCOUNT_NUMBER",
                "ITALY_BANK_ACCOUNT_NUMBER",
                "BANK_ACCOUNT_NUMBER",
            }
        ),
    },
    "card": {
        "card_number": frozenset({"CREDIT_CARD_NUMBER"}),
        "expiration": frozenset({"CREDIT_CARD_EXPIRATION"}),
        "security_code": frozenset({"CREDIT_CARD_SECURITY_CODE"}),
    },
}


def _fakers(seed: int) -> list[Faker]:
    fakers = []
    for offset, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + offset)
        fakers.append(fake)
    return fakers


def _card_record(fake: Faker) -> tuple[str, str, str, str]:
    card_type = fake.random_element(("visa", "mastercard", "amex", "discover", "jcb", "diners", "maestro"))
    return (
        fake.credit_card_provider(card_type),
        fake.credit_card_number(card_type),
        fake.credit_card_expire(),
        fake.credit_card_security_code(card_type),
    )


_POOL_MAKERS: dict[str, Callable[[Faker], object]] = {
    "first_name": lambda f: f.first_name(),
    "last_name": lambda f: f.last_name(),
    "user_name": lambda f: f.user_name(),
    "email": lambda f: f.email(),
    "iban": lambda f: f.iban(),
    "bban": lambda f: f.bban(),
    "card": _card_record,
}


@lru_cache(maxsize=64)
def _pool(seed: int, kind: str) -> tuple[object, ...]:
    """POOL_SIZE Faker values of one kind, drawn evenly from LOCALES (cached: Faker is slow)."""
    fakers = _fakers(seed)
    per_locale = max(1, POOL_SIZE // len(fakers))
    make = _POOL_MAKERS[kind]
    return tuple(make(fake) for fake in fakers for _ in range(per_locale))


def _draw(rng: random.Random, pool: Sequence[object], rows: int, type_: pa.DataType | None = None) -> pa.Array:
    values = pa.array(list(pool), type_)
    indices = pa.array(rng.choices(range(len(pool)), k=rows), pa.int32())
    return values.take(indices)


def _ids(rows: int) -> pa.Array:
    return pa.array(range(1, rows + 1), pa.int64())


def _dates(rng: random.Random, rows: int, start: date, end: date) -> pa.Array:
    first, last = start.toordinal(), end.toordinal()
    epoch = date(1970, 1, 1).toordinal()
    days = [rng.randint(first, last) - epoch for _ in range(rows)]
    return pa.array(days, pa.int32()).cast(pa.date32())


def _timestamps(rng: random.Random, rows: int) -> pa.Array:
    start = 1_672_531_200  # 2023-01-01
    seconds = [start + rng.randrange(0, 2 * 365 * 86400) for _ in range(rows)]
    return pa.array(seconds, pa.int64()).cast(pa.timestamp("s"))


def _customer(rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    first = _draw(rng, _pool(seed, "first_name"), rows, pa.string())
    last = _draw(rng, _pool(seed + 1, "last_name"), rows, pa.string())
    return pa.table(
        {
            "id": _ids(rows),
            "username": _draw(rng, _pool(seed + 2, "user_name"), rows, pa.string()),
            "name": pc.binary_join_element_wise(first, last, " "),
            "gender": _draw(rng, ["F", "M"], rows, pa.string()),
            "mail": _draw(rng, _pool(seed + 3, "email"), rows, pa.string()),
            "birthdate": _dates(rng, rows, date(1940, 1, 1), date(2006, 12, 31)),
        }
    )


def _bank(rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    numbers = pa.array(range(10_000_001, 10_000_001 + rows), pa.int64()).cast(pa.string())
    return pa.table(
        {
            "id": _ids(rows),
            "account_number": pc.binary_join_element_wise("XYZ-", numbers, ""),
            "iban": _draw(rng, _pool(seed, "iban"), rows, pa.string()),
            "bban": _draw(rng, _pool(seed + 1, "bban"), rows, pa.string()),
        }
    )


def _card(rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)

    pool = _pool(seed, "card")
    indices = pa.array(rng.choices(range(len(pool)), k=rows), pa.int32())
    columns = list(zip(*pool, strict=True))
    pick = [pa.array(list(column), pa.string()).take(indices) for column in columns]
    return pa.table(
        {
            "id": _ids(rows),
            "provider": pick[0],
            "card_number": pick[1],
            "expiration": pick[2],
            "security_code": pick[3],
        }
    )


_ADJECTIVES = ("Deluxe", "Compact", "Premium", "Classic", "Portable", "Smart", "Ultra", "Basic", "Pro", "Eco")
_NOUNS = (
    "Toaster",
    "Kettle",
    "Blender",
    "Lamp",
    "Backpack",
    "Speaker",
    "Monitor",
    "Drill",
    "Chair",
    "Router",
)
_STATUSES = ("pending", "paid", "shipped", "delivered", "returned", "cancelled")
_NOTE_TEMPLATES = (
    "Order {a} shipped in {b} boxes",
    "Ticket #{a}: customer asked for a refund of {c} EUR",
    "Batch {a}-{b} passed QA at {h}:{m}",
    "Invoice INV-{a} due in {b} days, total {c}",
    "Restocked {b} units of SKU-{a}",
    "Call back re. case {a} after {h}:{m}",
    "Price changed from {c} to {d} on {y}-0{b}-1{b}",
)


def _orders(rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    return pa.table(
        {
            "order_id": pa.array([f"ORD-{2023 + i % 2}-{i:06d}" for i in range(1, rows + 1)], pa.string()),
            "customer_id": pa.array([rng.randint(1, 1_000_000) for _ in range(rows)], pa.int64()),
            "order_date": _dates(rng, rows, date(2023, 1, 1), date(2024, 12, 31)),
            "quantity": pa.array([rng.randint(1, 12) for _ in range(rows)], pa.int32()),
            "total": pa.array([round(rng.uniform(3, 2500), 2) for _ in range(rows)], pa.float64()),
            "status": _draw(rng, list(_STATUSES), rows, pa.string()),
        }
    )


def _products(rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return pa.table(
        {
            "sku": pa.array(
                [f"SKU-{rng.choice(letters)}{rng.choice(letters)}{rng.randint(10, 99)}-{i:04d}" for i in range(rows)],
                pa.string(),
            ),
            "product_name": pa.array(
                [f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}" for _ in range(rows)], pa.string()
            ),
            "price": pa.array([round(rng.uniform(1, 999), 2) for _ in range(rows)], pa.float64()),
            "stock": pa.array([rng.randint(0, 5000) for _ in range(rows)], pa.int32()),
            "ean_prefix": pa.array([f"{rng.randint(0, 9999999):07d}" for _ in range(rows)], pa.string()),
        }
    )


def _notes(rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    texts = [
        rng.choice(_NOTE_TEMPLATES).format(
            a=rng.randint(1000, 999999),
            b=rng.randint(1, 9),
            c=f"{rng.uniform(1, 900):.2f}",
            d=f"{rng.uniform(1, 900):.2f}",
            h=rng.randint(0, 23),
            m=f"{rng.randint(0, 59):02d}",
            y=rng.randint(2020, 2024),
        )
        for _ in range(rows)
    ]
    return pa.table(
        {
            "note_id": _ids(rows),
            "note": pa.array(texts, pa.string()),
            "created_at": _timestamps(rng, rows),
        }
    )


def _events(rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    return pa.table(
        {
            "event_id": pa.array([f"{rng.getrandbits(128):032x}" for _ in range(rows)], pa.string()),
            "ts": _timestamps(rng, rows),
            "event_type": _draw(rng, ["click", "view", "purchase", "login", "logout"], rows, pa.string()),
            "duration_ms": pa.array([rng.randint(1, 120_000) for _ in range(rows)], pa.int64()),
            "commit": pa.array([f"{rng.getrandbits(160):040x}" for _ in range(rows)], pa.string()),
        }
    )


def _metrics(rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    return pa.table(
        {
            "metric_id": _ids(rows),
            "day": _dates(rng, rows, date(2020, 1, 1), date(2024, 12, 31)),
            "region_code": _draw(rng, ["EU-WEST-1", "US-EAST-1", "AP-SOUTH-1"], rows, pa.string()),
            "visits": pa.array([rng.randint(0, 10_000_000) for _ in range(rows)], pa.int64()),
            "revenue": pa.array([round(rng.uniform(0, 1e6), 2) for _ in range(rows)], pa.float64()),
            "conversion_rate": pa.array([rng.random() for _ in range(rows)], pa.float64()),
        }
    )


def _shipments(rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    alnum = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
    return pa.table(
        {
            "tracking_number": pa.array(["1Z" + "".join(rng.choices(alnum, k=16)) for _ in range(rows)], pa.string()),
            "carrier": _draw(rng, ["DHL Express", "UPS Ground", "La Poste Colissimo", "Royal Mail"], rows),
            "weight_kg": pa.array([round(rng.uniform(0.1, 30), 3) for _ in range(rows)], pa.float64()),
            "shipped_at": _timestamps(rng, rows),
            "eta": _dates(rng, rows, date(2023, 1, 1), date(2025, 6, 30)),
        }
    )


_GENERATORS: dict[str, Callable[[int, int], pa.Table]] = {
    "customer": _customer,
    "bank": _bank,
    "card": _card,
    "orders": _orders,
    "products": _products,
    "notes": _notes,
    "events": _events,
    "metrics": _metrics,
    "shipments": _shipments,
}


def generate_table(name: str, rows: int, seed: int = 0) -> pa.Table:
    """``rows`` rows of sample table ``name``; the same seed gives the same table."""
    try:
        generator = _GENERATORS[name]
    except KeyError:
        raise KeyError(f"unknown sample table {name!r}; known: {', '.join(_GENERATORS)}") from None
    if rows < 0:
        raise ValueError("rows must be >= 0")
    return generator(rows, seed)

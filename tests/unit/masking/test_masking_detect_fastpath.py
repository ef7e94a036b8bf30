"""The scan's shortcuts find what the plain per-cell check finds.

classify_source gates blocks of cells, probes the first rows, scans repeated values once, takes
the match of plain cells without a regex extraction and retires rules whose regex stopped
matching. None of that may change a finding: these tests compare it, cell for cell, with the
exact per-cell check (every rule's regex, keyword distance and validator on every cell, in
Python) on generated columns, and hold every rule's ``plain`` form to its regex.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcp.masking import checks, detect
from dcp.masking.checks import IBAN_LENGTHS, iban_valid, luhn_valid
from dcp.masking.detect import _cells_matching, _extract_first, _first_matches, classify_source, rules_for
from dcp.masking.detect import name_has_keyword as header_has_keyword
from dcp.masking.identifiers import DEFAULT_CUSTOM_IDENTIFIERS, MANAGED_IDENTIFIERS, PatternRule, select_managed

PLAIN_RULES = [
    pytest.param(identifier.id, rule, id=f"{identifier.id}-{index}")
    for identifier in MANAGED_IDENTIFIERS
    for index, rule in enumerate(identifier.rules)
    if rule.plain
]

_NAMES = ("Anna", "Otto", "Sandra", "Celine", "Telse", "Marina", "Jean", "Rue", "Ana", "Invoice")
_SURNAMES = ("Rossi", "Brown", "Davies", "Tello", "Dobson", "Di Massa", "Luna", "Ribeiro", "INV", "S.L.")
_CELLS = (
    "4111111111111111",
    "4111 1111 1111 1111",
    "4111111111111112",
    "5500005555555559",
    "378282246310005",
    "0251586834",
    "+44 161 496 0835",
    "123-45-6789",
    "078051120",
    "DE89370400440532013000",
    "GB82 WEST 1234 5698 7654 32",
    "1980-03-04",
    "12/27",
    "ryan@example.org",
    "192.168.0.12",
    "12 Emily Lane\nSpringfield, IL 62704",
    "Patbergallee 8449\n90736 Stollberg",
    "XYZ-77",
    "C. Ana Luna",
    "Ana Luna S.L.",
    "rue Anne Roux",
    "Élodie Dupont",
    "Marina Di Massa",
    "Invoice INV-380146 due in 5 days",
    "",
)
_KEYWORDS = ("tel", "phone", "card number", "ssn", "dob", "iban", "cvv", "expiry", "passport", "bank account", "cel")

words = st.sampled_from(_NAMES + _SURNAMES)
cells = st.one_of(
    st.sampled_from(_CELLS),
    st.lists(words, min_size=1, max_size=4).map(" ".join),
    st.tuples(st.lists(words, min_size=2, max_size=3).map(" ".join), st.from_regex(r"[0-9]{1,12}", fullmatch=True)).map(
        " ".join
    ),
    st.from_regex(r"[0-9]{8,20}", fullmatch=True),
    st.tuples(st.sampled_from(_KEYWORDS), st.sampled_from(_CELLS)).map(" ".join),
    st.text(alphabet="abcXYZ019 -.,@:/\n", max_size=30),
)
columns = st.lists(cells, min_size=1, max_size=40)
column_names = st.sampled_from(("note", "name", "card_number", "phone", "ssn", "code", "iban"))


@contextmanager
def small_blocks() -> Iterator[None]:
    """Probe, gate and sample sizes small enough for a few dozen rows to take every path."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(detect, "PROBE_ROWS", 4)
        patch.setattr(detect, "GATE_BLOCK_ROWS", 3)
        patch.setattr(detect, "DISTINCT_SAMPLE_ROWS", 8)
        patch.setattr(detect, "RECURRING_SAMPLE_ROWS", 8)
        yield


def per_cell_reference(table: pa.Table) -> dict[tuple[str, str], int]:
    """(type, column) -> cells, by the exact per-cell check of every rule on every cell."""
    rules = rules_for(select_managed(None), DEFAULT_CUSTOM_IDENTIFIERS, "000000000000", "us-east-1")
    counts: dict[tuple[str, str], int] = {}
    for name in table.column_names:
        texts = table.column(name).to_pylist()
        found: dict[str, set[int]] = {}
        for rule in rules:
            header = rule.keyword_required and header_has_keyword(name, rule.keywords)
            flags = _cells_matching(rule, texts, keyword_needed=rule.keyword_required and not header)
            found.setdefault(rule.type, set()).update(i for i, flag in enumerate(flags) if flag)
        found["NAME"] = found.get("NAME", set()) - found.get("ADDRESS", set())
        counts.update({(kind, name): len(rows) for kind, rows in found.items() if rows})
    return counts


def scanned(table: pa.Table, batch_size: int) -> dict[tuple[str, str], int]:
    finding = classify_source(
        table, key="s/t/part.csv", custom_identifiers=DEFAULT_CUSTOM_IDENTIFIERS, batch_size=batch_size
    )
    if finding is None:
        return {}
    return {(d.type, column): n for d in finding.detections for column, n in d.column_counts.items()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.lists(st.tuples(column_names, columns), min_size=1, max_size=3), repeat=st.integers(1, 4))
def test_scan_matches_the_per_cell_check(data: list[tuple[str, list[str]]], repeat: int) -> None:
    named = dict(data)
    length = max(len(values) for values in named.values())
    # columns of one length; repeating the rows lets the distinct-value scan take over
    table = pa.table(
        {name: pa.array((values * length)[:length] * repeat, pa.string()) for name, values in named.items()}
    )
    with small_blocks():
        assert scanned(table, batch_size=max(2, length)) == per_cell_reference(table)


@pytest.mark.parametrize("shortcut", [True, False])
def test_plain_cells_and_retired_rules_on_a_wide_column(shortcut: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain names and card numbers (with digits, spaces and bad checksums mixed in) over several batches."""
    monkeypatch.setattr(detect, "PLAIN_SHORTCUT", shortcut)
    names = [f"{_NAMES[i % 10]} {_SURNAMES[i % 7]} {i:04d}" for i in range(300)]
    cards = ["4111111111111111", "4111111111111112", "4111 1111 1111 1111", "0251586834", "12"] * 60
    table = pa.table({"name": names, "card_number": cards, "note": ["tel 0251586834 " + n for n in names]})
    with small_blocks():
        assert scanned(table, batch_size=64) == per_cell_reference(table)


@pytest.mark.parametrize(("identifier", "rule"), PLAIN_RULES)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_plain_cell_holds_one_match_the_cell_less_its_tail(
    identifier: str, rule: PatternRule, data: st.DataObject
) -> None:
    plain, tail, regex = rule.plain, rule.plain_tail, rule.regex
    text = data.draw(st.from_regex(plain, fullmatch=True))
    matches = [match.group(0) for match in re.finditer(regex, text)]
    assert matches in ([], [text.rstrip(tail)]), identifier


@pytest.mark.parametrize(("identifier", "rule"), [p for p in PLAIN_RULES if p.values[1].plain_matches])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_plain_cell_of_a_plain_matches_rule_always_holds_its_match(
    identifier: str, rule: PatternRule, data: st.DataObject
) -> None:
    """``plain_matches``: the scan takes plain cells as matched without running the regex on them."""
    text = data.draw(st.from_regex(rule.plain, fullmatch=True))
    assert [match.group(0) for match in re.finditer(rule.regex, text)] == [text.rstrip(rule.plain_tail)], identifier


def test_only_rules_whose_plain_cells_always_match_say_so() -> None:
    """A digit-only cell need not hold a card or SSN number ("12"), so those rules do not claim it."""
    claiming = {identifier.id for identifier in MANAGED_IDENTIFIERS for rule in identifier.rules if rule.plain_matches}
    assert claiming == {"NAME"}
    assert all(rule.plain for identifier in MANAGED_IDENTIFIERS for rule in identifier.rules if rule.plain_matches)


NEEDS_RULES = [
    pytest.param(identifier.id, rule, id=f"{identifier.id}-{index}")
    for identifier in MANAGED_IDENTIFIERS
    for index, rule in enumerate(identifier.rules)
    if rule.needs
]


@pytest.mark.parametrize(("identifier", "rule"), NEEDS_RULES)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_match_contains_what_the_rule_needs(identifier: str, rule: PatternRule, data: st.DataObject) -> None:
    text = data.draw(st.from_regex(rule.regex))
    match = re.search(rule.regex, text)
    assert match is not None
    assert any(need in match.group(0) for need in rule.needs), identifier


def test_rules_whose_needs_are_absent_are_not_searched() -> None:
    """A column without '@', newline, ', ', '.', ':' is gated without e-mail, address and IP patterns."""
    rules = rules_for(select_managed(None), (), "0", "us-east-1")
    scanner = detect.ColumnScanner(name="code", index=0, rules=rules)
    strings = pa.array(["Anna Rossi", "Otto Brown 12"] * 40)
    blocks = detect._blocks(strings, detect.GATE_BLOCK_ROWS)
    kept = {rules[p].type for p in scanner._possible(strings, blocks, range(len(rules)))}
    assert {"EMAIL_ADDRESS", "ADDRESS", "IP_ADDRESS"}.isdisjoint(kept) and {"NAME", "CREDIT_CARD_NUMBER"} <= kept
    with_lines = pa.array(["12 Emily Lane", "Springfield, IL 62704\nUS", "a@b.io"])
    blocks = detect._blocks(with_lines, detect.GATE_BLOCK_ROWS)
    assert {"EMAIL_ADDRESS", "ADDRESS"} <= {
        rules[p].type for p in scanner._possible(with_lines, blocks, range(len(rules)))
    }


@pytest.mark.parametrize(("identifier", "rule"), PLAIN_RULES)
def test_first_matches_agree_with_the_regex_extraction(identifier: str, rule: PatternRule) -> None:
    rules = [r for r in rules_for(select_managed([identifier]), (), "0", "us-east-1") if r.regex == rule.regex]
    texts = pa.array(
        [
            "Anna Rossi",
            "Otto Brown 0042",
            "Anna Maria Rossi 12-3",
            "Élodie Dupont",
            "rue Anne Roux 12",
            "4111111111111111",
            "0251586834",
            "123456789",
            "x 4111 1111 1111 1111",
            "C. Ana Luna",
        ]
    )
    matched = texts.filter(pc.match_substring_regex(texts, rules[0].regex))
    first, plain = _first_matches(rules[0], matched)
    assert first.to_pylist() == _extract_first(rules[0], matched).to_pylist()
    assert plain is not None and pc.any(plain).as_py()


def _numeric(text: str) -> int:
    return int("".join(str(int(char, 36)) for char in text))


@st.composite
def ibans(draw: st.DrawFn) -> str:
    """Valid IBANs of every country, and the same with a digit changed or a wrong length."""
    country = draw(st.sampled_from(sorted(IBAN_LENGTHS)))
    bban = draw(st.from_regex(rf"[A-Z0-9]{{{IBAN_LENGTHS[country] - 4}}}", fullmatch=True))
    check = 98 - _numeric(bban + country + "00") % 97
    iban = f"{country}{check:02d}{bban}"
    return draw(st.sampled_from((iban, iban[:-1] + str((int(iban[-1], 36) + 1) % 10), iban + "7")))


@settings(max_examples=200, deadline=None)
@given(body=st.one_of(ibans(), st.from_regex(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", fullmatch=True)))
def test_iban_check_agrees_with_integer_mod_97(body: str) -> None:
    expected = IBAN_LENGTHS.get(body[:2]) == len(body) and _numeric(body[4:] + body[:4]) % 97 == 1
    assert iban_valid(pa.array([body])).to_pylist() == [expected]


def _luhn_reference(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        term = int(char) * (2 if index % 2 else 1)
        total += term - 9 if term > 9 else term
    return total % 10 == 0


@settings(max_examples=200, deadline=None)
@given(numbers=st.lists(st.from_regex(r"[0-9]{0,19}", fullmatch=True), min_size=1, max_size=40))
def test_luhn_check_agrees_with_the_digit_by_digit_sum(numbers: list[str]) -> None:
    assert luhn_valid(pa.array(numbers)).to_pylist() == [_luhn_reference(n) for n in numbers]


@settings(max_examples=100, deadline=None)
@given(
    width=st.integers(1, 19),
    seeds=st.lists(st.integers(0, 10**19 - 1), min_size=2, max_size=30),
    start=st.integers(0, 1),
)
def test_luhn_check_of_same_width_numbers_reads_the_buffer_as_it_is(width: int, seeds: list[int], start: int) -> None:
    """Numbers of one width skip the padding (a view of the data buffer, also of a slice)."""
    numbers = [str(seed)[-width:].zfill(width) for seed in seeds]
    values = pa.array(numbers).slice(start)
    assert luhn_valid(values).to_pylist() == [_luhn_reference(n) for n in numbers[start:]]


_RUNS = (
    "Anna Rossi", "Marina Di Massa", "rue Anne Roux", "C. Ana Luna", "Ana Luna S.L.", "Jean-Luc Picard",
    "Brian Hill", "Otto Brown GmbH", "San Marco", "x", "", "Via Roma", "Celine Dobson", "Telse Tello",
)  # fmt: skip


@pytest.mark.parametrize("small", [0, 10_000])
def test_name_check_gives_the_same_answer_by_python_set_and_by_arrow_hash(
    small: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below SMALL_MEMBERSHIP values the name check looks names and places up in a Python set."""
    cells = [*_RUNS, *(f"{first} {last}" for first in _NAMES for last in _SURNAMES)]
    values = pa.array([*cells, None], pa.string())
    monkeypatch.setattr(checks, "SMALL_MEMBERSHIP", small)
    got = checks.name_valid(values).to_pylist()
    monkeypatch.setattr(checks, "SMALL_MEMBERSHIP", -1)  # always Arrow's is_in
    assert got == checks.name_valid(values).to_pylist()
    assert checks._member(values, checks._known_names_array).to_pylist()[-1] is False
    assert any(got) and not all(flag for flag in got if flag is not None)


@settings(max_examples=100, deadline=None)
@given(
    indices=st.lists(st.one_of(st.none(), st.integers(0, 9)), max_size=60),
    hits=st.sets(st.integers(0, 9)),
)
def test_rows_of_hit_values_are_the_ascending_positions_pointing_at_them(
    indices: list[int | None], hits: set[int]
) -> None:
    expected = [row for row, index in enumerate(indices) if index is not None and index in hits]
    found = detect._rows_of(pa.array(sorted(hits), pa.int64()), 10, pa.array(indices, pa.int32()))
    assert found.to_pylist() == expected
    assert found.type == pa.uint64()


def test_later_batches_look_up_the_values_earlier_ones_scanned() -> None:
    """A repeated-value column's results do not depend on which batch first saw a value."""
    rules = rules_for(select_managed(None), DEFAULT_CUSTOM_IDENTIFIERS, "0", "us-east-1")
    pools = [list(_CELLS[:12]), list(_CELLS[6:20]), [*_CELLS[14:], "Anna Rossi 12", "tel 0251586834"]]
    batches = [pa.array((pool * 40)[:200], pa.string()) for pool in pools]
    remembering = detect.ColumnScanner(name="note", index=0, rules=rules)
    with small_blocks(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(detect, "DISTINCT_SAMPLE_ROWS", 100)  # a sample that sees the pools repeat
        for batch in batches:
            fresh = detect.ColumnScanner(name="note", index=0, rules=rules)
            assert by_type(rules, remembering.scan(batch)) == by_type(rules, fresh.scan(batch))
    assert remembering._seen is not None and len(remembering._seen) == len(
        set(_CELLS) | {"Anna Rossi 12", "tel 0251586834"}
    )


def test_values_that_recur_across_batches_are_looked_up() -> None:
    """Batches whose cells are distinct but repeat earlier batches' cells agree with a fresh scan."""
    rules = rules_for(select_managed(None), DEFAULT_CUSTOM_IDENTIFIERS, "0", "us-east-1")
    names = [f"{_NAMES[i % 10]} {_SURNAMES[i % 7]} {i:04d}" for i in range(40)]
    pool = [*_CELLS, *names]
    batches = [pool, pool[7:] + pool[:7], ["Anna Rossi 9999", "tel 0251586834", "4111 1111 1111 1111", *pool[20:]]]
    remembering = detect.ColumnScanner(name="note", index=0, rules=rules)
    with small_blocks():
        for cells in batches:
            batch = pa.array(cells, pa.string())
            fresh = detect.ColumnScanner(name="note", index=0, rules=rules)
            hits = remembering.scan(batch)
            assert by_type(rules, hits) == by_type(rules, fresh.scan(batch))
            # in row order, as the occurrences kept for the finding expect
            assert [rows.to_pylist() for rows in hits.values()] == [sorted(rows.to_pylist()) for rows in hits.values()]
    assert remembering._recurring is True
    assert remembering._seen is not None and set(remembering._seen.to_pylist()) == set(batches[0]) | set(batches[2])


def test_values_beyond_the_memory_cap_are_scanned_again() -> None:
    rules = rules_for(select_managed(None), DEFAULT_CUSTOM_IDENTIFIERS, "0", "us-east-1")
    scanner = detect.ColumnScanner(name="note", index=0, rules=rules)
    batch = pa.array([*_CELLS, *(f"Anna Rossi {n:04d}" for n in range(40))], pa.string())
    with small_blocks(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(detect, "SEEN_BYTES_MAX", batch.nbytes - 1)
        for _ in range(3):
            fresh = detect.ColumnScanner(name="note", index=0, rules=rules)
            assert by_type(rules, scanner.scan(batch)) == by_type(rules, fresh.scan(batch))
    assert scanner._seen is None


def test_a_column_whose_values_do_not_recur_is_not_remembered() -> None:
    rules = rules_for(select_managed(None), DEFAULT_CUSTOM_IDENTIFIERS, "0", "us-east-1")
    scanner = detect.ColumnScanner(name="note", index=0, rules=rules)
    with small_blocks():
        for start in (0, 100, 200):
            batch = pa.array([f"Anna Rossi {n:04d}" for n in range(start, start + 100)], pa.string())
            fresh = detect.ColumnScanner(name="note", index=0, rules=rules)
            assert by_type(rules, scanner.scan(batch)) == by_type(rules, fresh.scan(batch))
    assert scanner._recurring is False and scanner._seen is None


def test_columns_scanned_together_find_what_each_finds_alone_in_fewer_regex_calls() -> None:
    """_run_together joins the columns' tests of one regex into one call; no hit may change."""
    rules = rules_for(select_managed(None), DEFAULT_CUSTOM_IDENTIFIERS, "0", "us-east-1")
    cells = [*_CELLS, *(f"{first} {last}" for first in _NAMES for last in _SURNAMES)]
    columns = {
        "note": cells,
        "comment": cells[::-1],
        "name": [*cells[5:], *cells[:5]],
        "card_number": [*cells[::2], *cells[1::2]],
        "id": [str(n) for n in range(len(cells))],
        "remark": [None if n % 3 else cell for n, cell in enumerate(cells)],
    }
    arrays = {name: pa.array(values, pa.string()) for name, values in columns.items()}
    calls: list[str] = []
    real = pc.match_substring_regex

    def counted(values: pa.Array, pattern: str) -> pa.Array:
        calls.append(pattern)
        return real(values, pattern)

    with small_blocks(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(detect.pc, "match_substring_regex", counted)
        alone = [detect.ColumnScanner(name=n, index=i, rules=rules) for i, n in enumerate(arrays)]
        together = [detect.ColumnScanner(name=n, index=i, rules=rules) for i, n in enumerate(arrays)]
        for batch in range(2):  # a second batch: probed columns, remembered values, retired rules
            if batch:  # half of the values new
                arrays = {
                    name: pc.if_else(
                        pa.array([n % 2 == 0 for n in range(len(values))]),
                        pc.binary_join_element_wise(values, "7", " "),
                        values,
                    )
                    for name, values in arrays.items()
                }
            calls.clear()
            expected = [scanner.scan(arrays[scanner.name]) for scanner in alone]
            separate = len(calls)
            calls.clear()
            found = detect._run_together([scanner.scan_steps(arrays[scanner.name]) for scanner in together])
            assert [by_type(rules, hits) for hits in found] == [by_type(rules, hits) for hits in expected]
            assert [scanner.active for scanner in together] == [scanner.active for scanner in alone]
            assert len(calls) < separate


def test_probing_columns_together_activates_the_rules_each_probe_fires() -> None:
    """One regex call per rule over every column's probe decides what one call per column would."""
    rules = rules_for(select_managed(None), DEFAULT_CUSTOM_IDENTIFIERS, "0", "us-east-1")
    columns = {
        "card_number": ["4111111111111111", "0251586834", "12"],
        "note": ["tel 0251586834", "Anna Rossi", "ryan@example.org"],
        "name": ["Ana Luna", "Marina Di Massa", ""],
        "empty": [None, None, None],
        "phone": ["+44 161 496 0835", "0251586834", "x"],
    }
    scanners = [detect.ColumnScanner(name=name, index=i, rules=rules) for i, name in enumerate(columns)]
    arrays = [pa.array(cells, pa.string()) for cells in columns.values()]
    detect.probe_columns(scanners, arrays)
    for scanner, cells in zip(scanners, columns.values(), strict=True):
        if all(cell is None for cell in cells):
            assert not scanner.probed and not scanner.active
            continue
        probe = "\n".join(cells[: detect.PROBE_ROWS])
        expected = {
            position
            for position in range(len(rules))
            if position not in scanner._keyword_gated
            and re.search(scanner._effective_regex(position), probe, re.MULTILINE)
        }
        assert scanner.probed and scanner.active == expected, scanner.name
    assert any(scanner.active for scanner in scanners)


def test_small_csv_blocks_are_joined_into_scan_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan reads a CSV in small blocks and joins them; the finding is the one of one big batch."""
    names = [f"{_NAMES[i % 10]} {_SURNAMES[i % 7]} {i:04d}" for i in range(600)]
    cards = ["4111111111111111", "4111111111111112", "0251586834", "12", "ryan@example.org"] * 120
    buffer = io.BytesIO()
    pacsv.write_csv(
        pa.table(
            {"name": names, "card_number": cards, "note": [f"tel {c} {n}" for c, n in zip(cards, names, strict=True)]}
        ),
        buffer,
    )
    data = buffer.getvalue()

    def finding() -> object:
        found = classify_source(
            data, key="s/t/x.csv", custom_identifiers=DEFAULT_CUSTOM_IDENTIFIERS, max_occurrences=1000
        )
        assert found is not None
        return found.detections

    whole = finding()
    joined: list[int] = []
    original = detect._joined
    monkeypatch.setattr(detect, "_joined", lambda batches: joined.append(len(batches)) or original(batches))
    monkeypatch.setattr(detect, "READ_BLOCK_BYTES", 1024)
    monkeypatch.setattr(detect, "DEFAULT_BLOCK_BYTES", 8192)
    assert finding() == whole
    assert len(joined) > 2 and max(joined) > 1


def test_coalesced_batches_reach_the_size_and_keep_every_row() -> None:
    batches = [pa.record_batch({"a": pa.array([str(n) * 10] * 7)}) for n in range(10)]
    size = 3 * batches[0].nbytes
    joined = list(detect._coalesced(batches, size))
    assert [batch.num_rows for batch in joined] == [21, 21, 21, 7]
    assert all(batch.nbytes >= size for batch in joined[:-1])
    assert pa.Table.from_batches(joined).equals(pa.Table.from_batches(batches))


def by_type(rules: list[detect.Rule], hits: dict[int, pa.Array]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for position, rows in hits.items():
        found.setdefault(rules[position].type, set()).update(rows.to_pylist())
    return found


GATE_RULES = [
    pytest.param(identifier.id, rule, id=f"{identifier.id}-{index}")
    for identifier in MANAGED_IDENTIFIERS
    for index, rule in enumerate(identifier.rules)
    if rule.gate
]


def _parsed(regex: str) -> list[object]:
    """The top-level items of a regex as Python's parser reads them (nested patterns as lists)."""
    from re import _parser  # type: ignore[attr-defined]

    def plain(item: object) -> object:
        if isinstance(item, _parser.SubPattern):
            return [plain(part) for part in item.data]
        if isinstance(item, tuple | list):
            return [plain(part) for part in item]
        return item

    return [plain(item) for item in _parser.parse(regex).data]


def test_some_rules_have_a_gate() -> None:
    assert {p.values[0] for p in GATE_RULES} == {"ADDRESS"}


@pytest.mark.parametrize(("identifier", "rule"), GATE_RULES)
def test_a_rules_gate_is_a_tail_of_its_regex(identifier: str, rule: PatternRule) -> None:
    """The gate is the regex's last top-level items, so every match of the regex holds a match of it."""
    tail = _parsed(rule.gate)
    assert rule.regex.endswith(rule.gate) and rule.gate != rule.regex, identifier
    assert 0 < len(tail) < len(_parsed(rule.regex)) and _parsed(rule.regex)[-len(tail) :] == tail, identifier


@pytest.mark.parametrize(("identifier", "rule"), GATE_RULES)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_match_holds_a_match_of_the_rules_gate(identifier: str, rule: PatternRule, data: st.DataObject) -> None:
    text = data.draw(st.from_regex(re.compile(rule.regex, re.ASCII)))
    match = re.search(rule.regex, text, re.ASCII)
    assert match is not None
    assert re.search(rule.gate, match.group(0), re.ASCII), identifier
    # and so for RE2, which runs the gate, also in the multi-line mode of the block gate
    texts = pa.array([text, match.group(0)])
    assert pc.all(pc.match_substring_regex(texts, rule.regex)).as_py(), identifier
    assert pc.all(pc.match_substring_regex(texts, rule.gate)).as_py(), identifier
    assert pc.all(pc.match_substring_regex(texts, "(?m)" + rule.gate)).as_py(), identifier


_NOTES = (
    "Ship to 12 Emily Lane\nSpringfield, IL 62704 before noon",
    "Patbergallee 8449\n90736 Stollberg",
    "Alameda Teresita Valle 48 Piso 4 \nMálaga, 26778",
    "boulevard Mallet\n20749 Perrot",
    "Flat 95E\nConnor Vista\nTurnermouth\nLS41 1PL",
    "Unit 5131 Box 3735\nDPO AE 63763",
    # decoys: a gate's tail matches, the whole regex does not
    "Total, 12345 Euro",
    "see, 12345 and more",
    "Invoice INV-380146 due in 5 days, total 224.34",
    "Restocked 9 units of SKU-61816",
)


@pytest.mark.parametrize("rows", [30, 400])
def test_the_gate_uses_the_rules_gates_and_finds_every_address(rows: int) -> None:
    """Free text (ADDRESS behind the gate) holding addresses and tail-only decoys: the per-cell result."""
    rules = rules_for(select_managed(None), DEFAULT_CUSTOM_IDENTIFIERS, "0", "us-east-1")
    scanner = detect.ColumnScanner(name="comment", index=0, rules=rules)
    addresses = [p for p, rule in enumerate(rules) if rule.type == "ADDRESS"]
    gate = scanner._gate_regex(addresses)
    assert all(rules[p].gate in gate and rules[p].regex not in gate for p in addresses)
    table = pa.table({"comment": pa.array([_NOTES[(i * 7) % len(_NOTES)] for i in range(rows)], pa.string())})
    with small_blocks():
        found = scanned(table, batch_size=rows)
    assert found == per_cell_reference(table)
    assert found[("ADDRESS", "comment")] == sum(1 for i in range(rows) if (i * 7) % len(_NOTES) < 6)


def test_free_text_tests_the_name_regex_before_the_plain_form() -> None:
    """A column of mostly not-plain cells runs NAME first; both orders give the per-cell result."""
    rules = rules_for(select_managed(None), DEFAULT_CUSTOM_IDENTIFIERS, "0", "us-east-1")
    name = next(p for p, rule in enumerate(rules) if rule.type == "NAME")
    texts = [f"Paid by {_NAMES[i % 9]} {_SURNAMES[i % 7]} on Monday" for i in range(60)]
    plain = [f"{_NAMES[i % 9]} {_SURNAMES[i % 7]} {i}" for i in range(60)]
    mixed = [*texts[:40], *plain[:20]]  # plain cells among free text: a plain mask must be exact
    for cells, plain_first in ((texts, False), (plain, True), (mixed, False), (plain[:20] + texts[:10], True)):
        table = pa.table({"comment": pa.array(cells, pa.string())})
        scanner = detect.ColumnScanner(name="comment", index=0, rules=rules)
        with small_blocks(), pytest.MonkeyPatch.context() as patch:
            patch.setattr(detect, "PROBE_ROWS", 16)
            hits = scanner.scan(table.column(0).combine_chunks())
            assert scanner._plain_first.get(name) is plain_first
            assert {rules[p].type: len(rows) for p, rows in hits.items()}.get("NAME", 0) == per_cell_reference(
                table
            ).get(("NAME", "comment"), 0)


def test_short_columns_without_hits_are_scanned_again_not_remembered() -> None:
    """Ids and amounts with nothing found are not looked up later; a new hit in a later batch is still found."""
    rules = rules_for(select_managed(None), DEFAULT_CUSTOM_IDENTIFIERS, "0", "us-east-1")
    scanner = detect.ColumnScanner(name="code", index=0, rules=rules)
    first = pa.array([f"{n:06d}-{n % 7}" for n in range(200)], pa.string())
    later = pa.array([*first.to_pylist()[:150], "ryan@example.org", "4111 1111 1111 1111"], pa.string())
    with small_blocks():
        assert scanner.scan(first) == {}
        assert scanner._recurring is False and scanner._seen is None
        fresh = detect.ColumnScanner(name="code", index=0, rules=rules)
        assert by_type(rules, scanner.scan(later)) == by_type(rules, fresh.scan(later))
        assert "EMAIL_ADDRESS" in by_type(rules, scanner.scan(later))
    long_cells = pa.array([f"reference {n:06d} of the order, see the ticket" for n in range(200)], pa.string())
    remembering = detect.ColumnScanner(name="code", index=0, rules=rules)
    with small_blocks():
        remembering.scan(long_cells)
    assert remembering._seen is not None  # long cells: a look-up is cheaper than the gate


def test_later_batches_of_a_repeated_column_look_up_cells_and_scan_each_new_value_once() -> None:
    """Cells looked up directly (nulls, new values repeated many times) agree with a fresh scan."""
    rules = rules_for(select_managed(None), DEFAULT_CUSTOM_IDENTIFIERS, "0", "us-east-1")
    first = pa.array((list(_CELLS[:10]) * 30)[:300], pa.string())
    later = pa.array(([None, *_CELLS[5:18], "Anna Rossi 12"] * 30)[:300], pa.string())
    remembering = detect.ColumnScanner(name="note", index=0, rules=rules)
    with small_blocks(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(detect, "DISTINCT_SAMPLE_ROWS", 100)
        remembering.scan(first)
        calls: list[int] = []
        real = remembering._scan_values

        def counted(values: pa.Array) -> detect._Steps[dict[int, pa.Array]]:
            calls.append(len(values))
            return real(values)

        patch.setattr(remembering, "_scan_values", counted)
        hits = remembering.scan(later)
        fresh = detect.ColumnScanner(name="note", index=0, rules=rules)
        assert by_type(rules, hits) == by_type(rules, fresh.scan(later))
    assert [rows.to_pylist() for rows in hits.values()] == [sorted(rows.to_pylist()) for rows in hits.values()]
    # the new values, each once (no null): _CELLS[10:18] and "Anna Rossi 12"
    assert calls == [9]
    assert remembering._seen is not None and len(remembering._seen) == 19


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "", "Anna"])), max_size=30))
def test_distinct_counts_what_count_distinct_counts(values: list[str | None]) -> None:
    array = pa.array(values, pa.string())
    assert detect._distinct(array) == pc.count_distinct(array).as_py()

"""Classify a table file the way Macie does and return a finding in Macie's schema.

Detection is column-wise and vectorised. For every column of every record batch:

1. Each rule (a managed identifier's pattern, or a custom identifier) is tried on the first
   rows of the column (one regex call per rule for all columns of the batch). Rules that
   fire there (or later) run over the whole column with
   ``pyarrow.compute.match_substring_regex`` (RE2, one pass each); one that stops matching
   goes back behind the gate. Rules that need a keyword in the cell always stay behind it.
2. All other rules are folded into one alternation "gate" regex (keyword-gated rules
   contribute only their keywords, in one group) run over blocks of 64 cells joined into one
   string, so a column that matches none of them costs a fraction of one pass. The gate is
   then run on the cells of the few blocks it lets through, and only those cells are checked
   rule by rule. Rules whose required characters (``PatternRule.needs``) are absent from the
   batch are left out.
3. A batch whose column repeats values (names, codes, statuses) is scanned on its distinct
   values and the hits are mapped back to rows; values an earlier batch scanned are looked up.
   So are the cells of a column whose values recur across batches but not within one.
4. Only the rows a regex matched reach the validators (Luhn, mod-97, ...; vectorised where
   they are numeric) and the exact keyword-distance and ignore-word checks (Python, on those
   rows only). The match of a plain cell (``PatternRule.plain``) is taken without a regex
   extraction (and, for ``PatternRule.plain_matches``, without a regex test).

A keyword in the column name or JSON path satisfies every keyword requirement for that
column, as Macie does for structured data. ``count`` is the number of cells (records) that
contain the type; occurrences are capped at 15 per type as in Macie.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TypeAlias, TypeVar, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dcp.masking.checks import run_check
from dcp.masking.findings import (
    MAX_OCCURRENCES,
    Cell,
    Detection,
    Finding,
    Record,
    json_path_for,
    table_from_key,
)
from dcp.masking.identifiers import (
    DIGITS_ONLY,
    Category,
    Check,
    CustomIdentifier,
    ManagedIdentifier,
    select_managed,
)
from dcp.masking.readers import DEFAULT_BLOCK_BYTES, Source, format_of, open_batches
from dcp.masking.transforms import as_strings

#: CSV/TSV block Arrow parses at a time; blocks are joined into batches of
#: readers.DEFAULT_BLOCK_BYTES for the scan (small blocks parse faster, big batches scan faster)
READ_BLOCK_BYTES = 4 << 20
#: rows of a column's first batch every rule is tried on before the rest is gated
PROBE_ROWS = 512
#: cells joined into one string for the gate regex
GATE_BLOCK_ROWS = 64
#: a batch whose distinct values are at most this share of its rows is scanned value by value
DISTINCT_SCAN_RATIO = 0.5
#: rows sampled to decide whether a batch's column repeats values
DISTINCT_SAMPLE_ROWS = 4096
#: distinct values of a column remembered with their results, so later batches only scan new ones
SEEN_VALUES_MAX = 1_000_000
#: and at most this many bytes of them (long free-text cells)
SEEN_BYTES_MAX = 64 << 20
#: share of a batch's sampled cells an earlier batch must have scanned for the column to be
#: looked up value by value in every later batch (values that repeat across batches, not within)
RECURRING_SHARE = 0.5
#: a column of the first batch with no hit and no active rule (the gate alone scans it) whose cells
#: are this short on average (bytes, with offsets) is scanned again in later batches, not looked up
RESCAN_BYTES_PER_CELL = 24
#: cells of that batch sampled for the decision
RECURRING_SAMPLE_ROWS = 256
#: values (bytes) of one column's regex test small enough to join with other columns' tests of that regex
TOGETHER_BYTES = 1 << 20
#: take the match of a plain cell (PatternRule.plain) without extracting it by regex
PLAIN_SHORTCUT = True
#: share of a column's first PROBE_ROWS cells that must be plain for the plain test to run on every
#: cell before the regex (names); below it the regex runs first (free text: few plain cells)
PLAIN_FIRST_SHARE = 0.5


def _mask(rows: pa.Array, length: int) -> np.ndarray:
    """A numpy boolean array of ``length`` that is true at ``rows``."""
    mask = np.zeros(length, dtype=bool)
    mask[rows.to_numpy(zero_copy_only=False)] = True
    return mask


def _row_mask(rows: pa.Array, length: int) -> pa.Array:
    """A boolean array of ``length`` that is true at ``rows``."""
    return pa.array(_mask(rows, length))


def _rows_of(hits: pa.Array, values: int, indices: pa.Array) -> pa.Array:
    """Positions of ``indices`` (into ``values`` values, nulls for none) that point at a hit value, ascending."""
    if indices.null_count:
        return pc.indices_nonzero(pc.fill_null(_row_mask(hits, values).take(indices), False))
    return pa.array(np.flatnonzero(_mask(hits, values)[indices.to_numpy()]).astype(np.uint64))


def _distinct(values: pa.Array) -> int:
    """How many distinct non-null values (``unique`` takes half the time of ``count_distinct``'s aggregation)."""
    return len(pc.unique(values)) - (1 if values.null_count else 0)


def _union_rows(arrays: Sequence[pa.Array], length: int) -> pa.Array:
    """The distinct rows of ``arrays`` (positions below ``length``), ascending (a mask, not a hash)."""
    mask = np.zeros(length, dtype=bool)
    for rows in arrays:
        mask[rows.to_numpy(zero_copy_only=False)] = True
    return pa.array(np.flatnonzero(mask))


def _blocks(strings: pa.Array, size: int) -> pa.Array:
    """Consecutive cells joined by newlines, ``size`` cells per string (nulls as empty cells)."""
    total = len(strings)
    offsets = pa.array([*range(0, total, size), total], pa.int32())
    cells = strings.fill_null("") if strings.null_count else strings
    return pc.binary_join(pa.ListArray.from_arrays(offsets, cells), "\n")


def _newlines(strings: pa.Array) -> int:
    """How many newline characters the strings hold (a count over their data buffer)."""
    offsets, data = strings.buffers()[1:3]
    if offsets is None or data is None:
        return 0
    bounds = np.frombuffer(offsets, dtype=np.int32)[strings.offset : strings.offset + len(strings) + 1]
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8)[bounds[0] : bounds[-1]] == 10))


@dataclass(frozen=True)
class Rule:
    """One regex-level rule of a managed or custom identifier, ready to run."""

    type: str
    custom: bool
    category: str
    regex: str
    keyword_required: bool
    keywords: tuple[str, ...]
    distance: int
    check: Check = Check.NONE
    ignore_words: tuple[str, ...] = ()
    arn: str | None = None
    plain: str = ""
    plain_tail: str = ""
    plain_matches: bool = False
    needs: tuple[str, ...] = ()
    #: in the gate: a tail of ``regex`` every match of it holds (PatternRule.gate), or "" for the regex
    gate: str = ""
    #: managed identifiers: the keyword must be within ``distance`` of the data's start (Macie's
    #: "within 30 characters"); custom ones: of the match's end (CreateCustomDataIdentifier)
    distance_to_start: bool = False

    @property
    def keyword_regex(self) -> str:
        """The keywords, case-insensitive, each starting at a word boundary ("tel" not in "hotel")."""
        return _keyword_group(self.keywords)

    @property
    def near_keyword_regex(self) -> str:
        """Superset prefilter: a keyword, then at most ``distance`` characters, then the pattern."""
        return _near_keyword(self.keywords, self.distance, self.regex)

    @property
    def python(self) -> re.Pattern[str]:
        return _compiled(self.regex)


@cache
def _keyword_group(keywords: tuple[str, ...]) -> str:
    words = "|".join(re.escape(k) for k in sorted(set(keywords), key=lambda k: (-len(k), k)))
    return rf"(?i:\b(?:{words}))"


@cache
def _near_keyword(keywords: tuple[str, ...], distance: int, regex: str) -> str:
    return rf"{_keyword_group(keywords)}[\s\S]{{0,{distance}}}(?:{regex})"


@cache
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


@cache
def _keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    words = "|".join(re.escape(k) for k in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"\b(?:{words})", re.IGNORECASE)


def rules_for(
    managed: Sequence[ManagedIdentifier], custom: Sequence[CustomIdentifier], account_id: str, region: str
) -> list[Rule]:
    rules: list[Rule] = []
    for identifier in managed:
        for pattern in identifier.rules:
            rules.append(
                Rule(
                    type=identifier.id,
                    custom=False,
                    category=str(identifier.category),
                    regex=pattern.regex,
                    keyword_required=pattern.keyword_required,
                    keywords=identifier.keywords,
                    distance=identifier.maximum_match_distance,
                    check=pattern.check,
                    plain=pattern.plain,
                    plain_tail=pattern.plain_tail,
                    plain_matches=pattern.plain_matches,
                    needs=pattern.needs,
                    gate=pattern.gate,
                    distance_to_start=True,
                )
            )
    for custom_identifier in custom:
        rules.append(
            Rule(
                type=custom_identifier.name,
                custom=True,
                category=str(Category.CUSTOM_IDENTIFIER),
                regex=custom_identifier.regex,
                keyword_required=bool(custom_identifier.keywords),
                keywords=custom_identifier.keywords,
                distance=custom_identifier.maximum_match_distance,
                ignore_words=custom_identifier.ignore_words,
                arn=custom_identifier.finding_arn(account_id, region),
            )
        )
    return rules


# --- column names as keywords ---------------------------------------------------------------
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def normalise_name(name: str) -> str:
    """``cardNumber``/``card_number``/``$.card-number`` -> ``card number``."""
    spaced = _CAMEL.sub(" ", name)
    return " ".join(re.split(r"[\s_\-.$\[\]'\"/]+", spaced.lower())).strip()


def name_has_keyword(column: str, keywords: Iterable[str]) -> bool:
    """Whether a keyword appears as whole words in the column name (or the name spelled without spaces)."""
    normalised = normalise_name(column)
    compact = normalised.replace(" ", "")
    for keyword in keywords:
        word = normalise_name(keyword)
        if not word:
            continue
        if re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", normalised):
            return True
        if word.replace(" ", "") == compact:
            return True
    return False


@cache
def _header_has_keyword(column: str, keywords: tuple[str, ...]) -> bool:
    return name_has_keyword(column, keywords)


# --- accumulation -----------------------------------------------------------------------------
@dataclass
class _Tally:
    rule: Rule
    count: int = 0
    columns: dict[str, int] = field(default_factory=dict)  # cells per column, in first-seen order
    occurrences: list[tuple[int, int, str]] = field(default_factory=list)  # (row, column index, name)


# --- regex tests of all columns together ------------------------------------------------------
#: stages of a column's scan, in order: tests of a later stage wait until no column has an
#: earlier one left, so that the columns' tests of one regex meet (their regex is compiled once)
_ACTIVE, _NEEDS, _GATE_BLOCKS, _GATE_CELLS, _DORMANT = range(5)

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Match:
    """A request from a column's scan: which of ``values`` the RE2 ``regex`` matches (a search)."""

    values: pa.Array
    regex: str
    stage: int


#: a scan that asks for its regex tests (pyarrow.compute.match_substring_regex results) and
#: returns its result; run alone by _run, or with other columns' scans by _run_together
_Steps: TypeAlias = Generator[_Match, pa.Array, _T]


def _run(steps: _Steps[_T]) -> _T:
    """Run one scan, answering its regex tests one by one."""
    try:
        request = next(steps)
        while True:
            request = steps.send(pc.match_substring_regex(request.values, request.regex))
    except StopIteration as stop:
        return cast(_T, stop.value)


def _run_together(scans: Sequence[_Steps[_T]]) -> list[_T]:
    """Run the scans side by side: the tests of one regex that are pending at one stage are one call.

    Arrow compiles a regex (and builds its DFA) on every call, ~1-2 ms for the gate's
    alternation of every rule; the small values of several columns (TOGETHER_BYTES) are
    concatenated instead (a match of one cell never depends on another) and the answer
    sliced back. Stages (_ACTIVE ... _DORMANT) run in order, so that the columns meet.
    """
    results: dict[int, _T] = {}
    pending: dict[int, _Match] = {}

    def advance(index: int, answer: pa.Array | None) -> None:
        try:
            pending[index] = next(scans[index]) if answer is None else scans[index].send(answer)
        except StopIteration as stop:
            results[index] = cast(_T, stop.value)
            pending.pop(index, None)

    for index in range(len(scans)):
        advance(index, None)
    while pending:
        stage = min(request.stage for request in pending.values())
        by_regex: dict[str, list[int]] = {}
        for index, request in pending.items():
            if request.stage == stage:
                by_regex.setdefault(request.regex, []).append(index)
        for regex, members in by_regex.items():
            # copying values costs ~0.3 ns per byte: only small ones are joined (and not for
            # a literal search, whose compile costs nothing)
            small = [index for index in members if pending[index].values.nbytes < TOGETHER_BYTES]
            if stage == _NEEDS or len(small) < 2:
                small = []
            for index in members:
                if index not in small:
                    advance(index, pc.match_substring_regex(pending[index].values, regex))
            if not small:
                continue
            members = small
            parts = [pending[index].values for index in members]
            matched = pc.match_substring_regex(pa.concat_arrays(parts), regex)
            start = 0
            for index, part in zip(members, parts, strict=True):
                advance(index, matched.slice(start, len(part)))
                start += len(part)
    return [results[index] for index in range(len(scans))]


@dataclass
class ColumnScanner:
    """Runs the rules over one column, batch after batch, remembering which rules fire there."""

    name: str
    index: int
    rules: Sequence[Rule]
    active: set[int] = field(default_factory=set)
    probed: bool = False

    def __post_init__(self) -> None:
        self.header_keyword = [
            rule.keyword_required and _header_has_keyword(self.name, rule.keywords) for rule in self.rules
        ]
        self._effective = [
            rule.near_keyword_regex if rule.keyword_required and not header else rule.regex
            for rule, header in zip(self.rules, self.header_keyword, strict=True)
        ]
        self._gates: dict[tuple[int, ...], str] = {}
        # per rule with a plain form: whether the plain test runs before the regex (_matched)
        self._plain_first: dict[int, bool] = {}
        # distinct values of earlier batches (repeated-value columns) and, per rule, which it detected
        self._seen: pa.Array | None = None
        self._seen_hits: dict[int, pa.Array] = {}
        self._masks: dict[int, np.ndarray] | None = None  # _seen_hits as masks over _seen, when asked for
        # whether later batches repeat the values of earlier ones (None: not known yet)
        self._recurring: bool | None = None
        # whether the column repeats values within a batch (None: not known yet)
        self._repeating: bool | None = None
        # a rule that needs a keyword in the cell itself stays behind the gate, which holds its
        # keywords: few cells hold a keyword, so the rule only runs on those
        self._keyword_gated = {
            position
            for position, (rule, header) in enumerate(zip(self.rules, self.header_keyword, strict=True))
            if rule.keyword_required and not header
        }

    def _effective_regex(self, position: int) -> str:
        return self._effective[position]

    def _gate_regex(self, positions: Sequence[int]) -> str:
        """The rules' patterns, and for the rules that still need a keyword all their keywords in one group."""
        key = tuple(positions)
        gate = self._gates.get(key)
        if gate is None:
            parts: dict[str, None] = {}
            keywords: dict[str, None] = {}
            for position in positions:
                rule = self.rules[position]
                if rule.keyword_required and not self.header_keyword[position]:
                    keywords.update(dict.fromkeys(rule.keywords))
                else:
                    parts[f"(?:{rule.gate or rule.regex})"] = None
            if keywords:
                parts[_keyword_group(tuple(keywords))] = None
            gate = self._gates[key] = "|".join(parts)
        return gate

    def scan(self, strings: pa.Array) -> dict[int, pa.Array]:
        """Row indices (within the batch) that each rule detects (see scan_steps)."""
        return _run(self.scan_steps(strings))

    def scan_steps(self, strings: pa.Array) -> _Steps[dict[int, pa.Array]]:
        """Row indices (within the batch) that each rule detects, asking for its regex tests (_Match).

        A column with repeated values (see DISTINCT_SCAN_RATIO) is scanned on its distinct
        values only and the hits mapped back to rows: a result only depends on the cell text.
        """
        if len(strings) >= 2 * PROBE_ROWS and DISTINCT_SCAN_RATIO > 0 and self._repeats(strings):
            if self._seen is not None:
                # a later batch: every cell is looked up among the remembered values at once (one
                # hash per cell, not a dictionary encoding and then a look-up of the dictionary)
                return (yield from self._scan_distinct(strings))
            encoded = strings.dictionary_encode()
            if len(encoded.dictionary) <= DISTINCT_SCAN_RATIO * len(strings):
                distinct = yield from self._scan_distinct(encoded.dictionary)
                return {
                    position: _rows_of(rows, len(encoded.dictionary), encoded.indices)
                    for position, rows in distinct.items()
                }
        if DISTINCT_SCAN_RATIO > 0 and self._recurs(strings):
            # values repeat across batches, not within this one: look each cell up as a value
            return (yield from self._scan_distinct(strings))  # ascending rows
        hits = yield from self._scan_values(strings)
        if DISTINCT_SCAN_RATIO > 0 and self._recurring is None and len(strings) >= 2 * PROBE_ROWS:
            if hits or self.active or strings.nbytes > RESCAN_BYTES_PER_CELL * len(strings):
                self._remember(strings, hits)
            else:
                # nothing found and no rule active: the gate alone scans short cells faster than
                # a look-up among the remembered values hashes them (ids, amounts, counts)
                self._recurring = False
        return hits

    def _recurs(self, strings: pa.Array) -> bool:
        """Whether most of the batch's first RECURRING_SAMPLE_ROWS values are ones an earlier batch scanned.

        Decided on the first batch after the remembered one; a column whose values do not recur
        (unique ids, timestamps) is not remembered or looked up again. The remembered values
        are searched for the sample's (hashing the small sample, not all remembered values).
        """
        if self._seen is None or self._recurring is False:
            return False
        if self._recurring is None:
            sample = strings.slice(0, RECURRING_SAMPLE_ROWS)
            known = _distinct(self._seen.filter(pc.is_in(self._seen, value_set=sample)))
            self._recurring = known >= RECURRING_SHARE * _distinct(sample)
            if not self._recurring:
                self._seen, self._seen_hits, self._masks = None, {}, None
        return self._recurring

    def _scan_distinct(self, values: pa.Array) -> _Steps[dict[int, pa.Array]]:
        """Like _scan_values for distinct values, looking up the ones an earlier batch of the column scanned."""
        if self._seen is None:
            hits = yield from self._scan_values(values)
            self._remember(values, hits)
            return hits
        # the slot of each value among the remembered ones; one past the end: not remembered
        absent = len(self._seen)
        slots = pc.fill_null(pc.index_in(values, value_set=self._seen), absent).to_numpy()
        found = {position: seen[slots] for position, seen in self._seen_masks().items()}
        found = {position: mask for position, mask in found.items() if mask.any()}
        new = np.flatnonzero(slots == absent)
        if len(new):
            fresh = values.take(pa.array(new))
            # the new cells of a repeated-value column repeat too: each new value is scanned once
            encoded = fresh.dictionary_encode()
            distinct = encoded.dictionary
            fresh_hits = yield from self._scan_values(distinct)
            # the cell of each new row; nulls point one past the values, at no hit
            cells = pc.fill_null(encoded.indices, len(distinct)).to_numpy()
            for position, rows in fresh_hits.items():
                mask = found.get(position)
                if mask is None:
                    mask = found[position] = np.zeros(len(values), dtype=bool)
                mask[new[_mask(rows, len(distinct) + 1)[cells]]] = True
            self._remember(distinct, fresh_hits)
        return {position: pa.array(np.flatnonzero(mask).astype(np.uint64)) for position, mask in found.items()}

    def _seen_masks(self) -> dict[int, np.ndarray]:
        """Per rule, which remembered values it detected (and a last slot, false, for the values not remembered)."""
        if self._masks is None:
            assert self._seen is not None
            self._masks = {position: _mask(rows, len(self._seen) + 1) for position, rows in self._seen_hits.items()}
        return self._masks

    def _remember(self, values: pa.Array, hits: dict[int, pa.Array]) -> None:
        """Keep scanned distinct values and their hits for later batches (up to SEEN_VALUES_MAX / SEEN_BYTES_MAX)."""
        base = 0 if self._seen is None else len(self._seen)
        held = 0 if self._seen is None else self._seen.nbytes
        if base + len(values) > SEEN_VALUES_MAX or held + values.nbytes > SEEN_BYTES_MAX:
            return
        self._seen = values if self._seen is None else pa.concat_arrays([self._seen, values])
        self._masks = None
        for position, rows in hits.items():
            shifted = pc.add(rows.cast(pa.int64()), base)
            previous = self._seen_hits.get(position)
            self._seen_hits[position] = shifted if previous is None else pa.concat_arrays([previous, shifted])

    def _repeats(self, strings: pa.Array) -> bool:
        """Whether the column may repeat values: its first DISTINCT_SAMPLE_ROWS cells are not all distinct.

        The sample only rules out the columns of unique ids or timestamps, so they are not hashed
        in full for nothing (a pool of 5,000 values looks 70% distinct in 4,096 rows, 8% in 65,536).
        """
        if self._repeating is None:  # decided on the first batch
            sample = strings.slice(0, DISTINCT_SAMPLE_ROWS)
            self._repeating = _distinct(sample) <= 0.9 * len(sample)
        return self._repeating

    def _scan_values(self, strings: pa.Array) -> _Steps[dict[int, pa.Array]]:
        hits: dict[int, pa.Array] = {}
        if len(strings) == 0 or strings.null_count == len(strings):
            return hits
        if not self.probed:
            probe_columns([self], [strings])
        covered: dict[str, pa.Array] = {}  # type -> rows an earlier rule of the type confirmed
        ran = set(self.active)
        for position in sorted(ran):
            rule_type = self.rules[position].type
            done = covered.get(rule_type)
            plain = None
            if done is None:
                matched, plain = yield from self._matched(position, strings)
                rows = pc.indices_nonzero(matched)
            else:
                # only the cells no earlier rule of this type claimed need this rule
                rest = pc.indices_nonzero(pc.invert(_row_mask(done, len(strings))))
                if len(rest) == 0:
                    continue
                matched = yield _Match(strings.take(rest), self._effective_regex(position), _ACTIVE)
                rows = rest.filter(pc.fill_null(matched, False))
            if done is None and len(rows) == 0:
                # the probe's hint did not hold here (its rows are joined, so a keyword in one
                # cell can meet data in the next): the gate watches this rule from now on
                self.active.discard(position)
                continue
            confirmed = self._confirm(position, strings, rows, None if plain is None else plain.take(rows))
            if len(confirmed):
                hits[position] = confirmed
                covered[rule_type] = confirmed if done is None else pa.concat_arrays([done, confirmed])
        dormant = [p for p in range(len(self.rules)) if p not in self.active and p not in ran]
        blocks = _blocks(strings, GATE_BLOCK_ROWS) if dormant else None
        if blocks is not None:
            dormant = yield from self._possible_steps(strings, blocks, dormant)
        if blocks is not None and dormant:
            gated = yield from self._gated_rows(strings, blocks, dormant)
            if len(gated):
                subset = strings.take(gated)
                for position in dormant:
                    matched = yield _Match(subset, self._effective_regex(position), _DORMANT)
                    rows = gated.filter(pc.fill_null(matched, False))
                    confirmed = self._confirm(position, strings, rows)
                    if len(confirmed):
                        hits[position] = confirmed
                        if position not in self._keyword_gated:
                            self.active.add(position)
        return hits

    def _possible(self, strings: pa.Array, blocks: pa.Array, dormant: Sequence[int]) -> list[int]:
        return _run(self._possible_steps(strings, blocks, dormant))

    def _possible_steps(self, strings: pa.Array, blocks: pa.Array, dormant: Sequence[int]) -> _Steps[list[int]]:
        """The dormant rules that can match here: those whose ``needs`` (PatternRule) occur in the batch.

        A literal search (memchr) over the blocks; a newline counts when the blocks hold more
        than the ones that join their cells.
        """
        present: dict[str, bool] = {}
        for need in sorted({need for position in dormant for need in self.rules[position].needs}):
            if need == "\n":
                present[need] = _newlines(blocks) > len(strings) - len(blocks)
            else:  # RE2 finds a literal with memchr; Arrow's match_substring compares byte by byte
                present[need] = pc.any((yield _Match(blocks, rf"\Q{need}\E", _NEEDS))).as_py() is True
        return [p for p in dormant if not self.rules[p].needs or any(present[n] for n in self.rules[p].needs)]

    def _gated_rows(self, strings: pa.Array, blocks: pa.Array, dormant: Sequence[int]) -> _Steps[pa.Array]:
        """Rows of the blocks in which any dormant rule could match (a superset of their hits).

        The gate runs on blocks of GATE_BLOCK_ROWS cells joined by newlines, in multi-line
        mode, so the per-cell cost of a regex call is paid once per block; a match can only
        appear, never disappear, by joining cells.
        """
        gate_regex = self._gate_regex(dormant)
        gate = pc.fill_null((yield _Match(blocks, "(?m)" + gate_regex, _GATE_BLOCKS)), False)
        hit_blocks = pc.indices_nonzero(gate).to_pylist()
        if not hit_blocks:
            return pa.array([], pa.uint64())
        total = len(strings)
        rows = pa.array(
            [
                row
                for block in hit_blocks
                for row in range(block * GATE_BLOCK_ROWS, min(total, (block + 1) * GATE_BLOCK_ROWS))
            ],
            pa.uint64(),
        )
        # then cell by cell: a keyword-like word in one cell of a block must not send the
        # whole block through every dormant rule
        return rows.filter(pc.fill_null((yield _Match(strings.take(rows), gate_regex, _GATE_CELLS)), False))

    def _matched(self, position: int, strings: pa.Array) -> _Steps[tuple[pa.Array, pa.Array | None]]:
        """Which cells the rule's regex matches, and which are plain where that is known.

        For a rule whose plain cells always hold a match (``Rule.plain_matches``), the plain
        test (needed for the match anyway) comes first and the regex runs on the other cells;
        in a column whose cells are mostly not plain (free text, see PLAIN_FIRST_SHARE) the
        regex runs first and the plain test only on the cells it matched.
        """
        rule = self.rules[position]
        regex = self._effective_regex(position)
        if not (rule.plain_matches and PLAIN_SHORTCUT and regex == rule.regex):
            return pc.fill_null((yield _Match(strings, regex, _ACTIVE)), False), None
        if rule.plain == DIGITS_ONLY:
            plain = _plain_cells(rule, strings)
        else:
            plain_first = self._plain_first.get(position)
            if plain_first is None:  # decided on the column's first cells
                sample = pc.fill_null((yield _Match(strings.slice(0, PROBE_ROWS), rule.plain, _ACTIVE)), False)
                plain_first = self._plain_first[position] = (
                    pc.sum(sample.cast(pa.int32())).as_py() or 0
                ) >= PLAIN_FIRST_SHARE * len(sample)
            if not plain_first:
                matched = pc.fill_null((yield _Match(strings, regex, _ACTIVE)), False)
                rows = pc.indices_nonzero(matched)
                plain_rows = rows.filter(pc.fill_null((yield _Match(strings.take(rows), rule.plain, _ACTIVE)), False))
                return matched, _row_mask(plain_rows, len(strings))
            plain = pc.fill_null((yield _Match(strings, rule.plain, _ACTIVE)), False)
        rest = pc.indices_nonzero(pc.invert(plain))
        found = rest.filter(pc.fill_null((yield _Match(strings.take(rest), regex, _ACTIVE)), False))
        return pc.or_(plain, _row_mask(found, len(strings))), plain

    def _confirm(self, position: int, strings: pa.Array, rows: pa.Array, plain: pa.Array | None = None) -> pa.Array:
        """The candidate rows whose match passes the validator, keyword distance and ignore words.

        ``plain``: which candidates are plain (PatternRule.plain), when the caller knows.
        """
        if len(rows) == 0:
            return rows
        rule = self.rules[position]
        candidates = strings.take(rows)
        needs_keyword = rule.keyword_required and not self.header_keyword[position]
        if rule.check is Check.NONE and not needs_keyword and not rule.ignore_words:
            return rows
        if not needs_keyword and not rule.ignore_words:
            # vectorised fast path: validate the first match of every candidate cell at once
            first, single = _first_matches(rule, candidates, plain)
            ok = pc.fill_null(run_check(rule.check, first), False)
            if pc.all(ok).as_py():
                return rows
            # a cell whose first match fails can only hold a valid one if it has more matches
            failing = pc.invert(ok) if single is None else pc.and_(pc.invert(ok), pc.invert(single))
            failing_rows = pc.indices_nonzero(failing)
            if len(failing_rows):
                texts = candidates.take(failing_rows)
                more = pc.fill_null(pc.greater(pc.count_substring_regex(texts, rule.regex), 1), False)
                if pc.any(more).as_py():
                    again = _later_matches_valid(rule, texts.filter(more))
                    ok = pc.replace_with_mask(ok, _row_mask(failing_rows.filter(more), len(ok)), again)
            return rows.filter(ok)
        flags = _cells_matching(rule, candidates.to_pylist(), keyword_needed=needs_keyword)
        return rows.filter(pa.array(flags, pa.bool_()))


def probe_columns(scanners: Sequence[ColumnScanner], columns: Sequence[pa.Array]) -> None:
    """Try every rule on the first PROBE_ROWS rows of each column; the rules that fire are active.

    Each column's probe is one string of its first rows (one regex call per rule, not per
    cell), and all columns' probes are searched together: a regex is compiled once per batch,
    not once per column. Columns without a non-null cell wait for a later batch.
    """
    probes: list[pa.Array] = []
    users: dict[str, list[tuple[int, int]]] = {}  # regex -> (probe, position) pairs it decides
    waiting: list[ColumnScanner] = []
    for scanner, strings in zip(scanners, columns, strict=True):
        if scanner.probed or len(strings) == 0 or strings.null_count == len(strings):
            continue
        for position in range(len(scanner.rules)):
            if position not in scanner._keyword_gated:
                users.setdefault(scanner._effective_regex(position), []).append((len(probes), position))
        probes.append(_blocks(strings.slice(0, PROBE_ROWS), PROBE_ROWS))
        waiting.append(scanner)
    if not probes:
        return
    joined = pa.concat_arrays(probes)
    for regex, pairs in users.items():
        targets = joined.take(pa.array([probe for probe, _ in pairs], pa.int32()))
        fired = pc.fill_null(pc.match_substring_regex(targets, "(?m)" + regex), False).to_pylist()
        for (probe, position), hit in zip(pairs, fired, strict=True):
            if hit:
                waiting[probe].active.add(position)
    for scanner in waiting:
        scanner.probed = True


def _plain_cells(rule: Rule, texts: pa.Array) -> pa.Array:
    """Which texts are plain (``PatternRule.plain``); nulls are not."""
    if rule.plain == DIGITS_ONLY:  # the same test without a regex pass
        return pc.fill_null(pc.ascii_is_decimal(texts), False)
    return pc.fill_null(pc.match_substring_regex(texts, rule.plain), False)


def _first_matches(rule: Rule, texts: pa.Array, plain: pa.Array | None = None) -> tuple[pa.Array, pa.Array | None]:
    """The first match of ``rule`` in each text that the rule's regex matched.

    The second item says which texts are plain (``PatternRule.plain``): they hold exactly that
    one match, taken by trimming the cell instead of by a regex extraction (RE2's extraction
    costs several times its match test). None when the rule has no plain form.
    """
    if not rule.plain or not PLAIN_SHORTCUT:
        return _extract_first(rule, texts), None
    if plain is None:
        plain = _plain_cells(rule, texts)
    flags = plain.to_numpy(zero_copy_only=False)
    if not flags.any():  # free text: no cell to trim
        return _extract_first(rule, texts), plain
    shortcut = pc.utf8_rtrim(texts, characters=rule.plain_tail) if rule.plain_tail else texts
    if flags.all():
        return shortcut, plain
    # the extracted matches of the other cells take their places (a take, not replace_with_mask)
    rest = np.flatnonzero(~flags)
    order = np.arange(len(texts))
    order[rest] = len(texts) + np.arange(len(rest))
    extracted = _extract_first(rule, texts.take(pa.array(rest)))
    return pa.concat_arrays([shortcut, extracted]).take(pa.array(order)), plain


def _extract_first(rule: Rule, texts: pa.Array) -> pa.Array:
    return pc.struct_field(pc.extract_regex(texts, f"(?P<m>{rule.regex})"), "m")


#: what a pattern may consume before the data it finds (a card number's leading separator)
_SEPARATORS = " \t\r\n-:;,/=\"'"

#: how many further matches per cell are validated vectorised before falling back to Python
LATER_MATCH_ROUNDS = 8


def _later_matches_valid(rule: Rule, texts: pa.Array) -> pa.Array:
    """Whether a later match (after the first) in each cell passes the validator.

    Vectorised: each round cuts every cell up to the end of its current first match and
    validates the next one, so only cells with more than LATER_MATCH_ROUNDS failing matches
    reach the per-cell Python check.
    """
    found = pa.repeat(pa.scalar(False), len(texts))
    pending = pa.repeat(pa.scalar(True), len(texts))
    remaining = texts
    cut = rf"^[\s\S]*?(?:{rule.regex})"
    for _ in range(LATER_MATCH_ROUNDS):
        remaining = pc.replace_substring_regex(remaining, pattern=cut, replacement="", max_replacements=1)
        following = pc.struct_field(pc.extract_regex(remaining, f"(?P<m>{rule.regex})"), "m")
        exists = pc.is_valid(following)
        valid = pc.and_(exists, pc.fill_null(run_check(rule.check, pc.fill_null(following, "")), False))
        found = pc.or_(found, pc.and_(pending, valid))
        pending = pc.and_(pending, pc.and_(exists, pc.invert(valid)))
        if not pc.any(pending).as_py():
            return found
    rest = pc.indices_nonzero(pending)
    flags = _cells_matching(rule, texts.take(rest).to_pylist(), keyword_needed=False)
    return pc.or_(found, _row_mask(rest.filter(pa.array(flags, pa.bool_())), len(texts)))


def _cells_matching(rule: Rule, texts: Sequence[str | None], *, keyword_needed: bool) -> list[bool]:
    """Exact per-cell check (keyword distance, ignore words, validator) for cells the regex hit.

    The Python part is the match enumeration of these cells; the validator runs once,
    vectorised, over every match of every cell.
    """
    owners: list[int] = []
    found: list[str] = []
    keywords = _keyword_pattern(rule.keywords) if keyword_needed else None
    for index, text in enumerate(texts):
        if text is None:
            continue
        keyword_ends = [m.end() for m in keywords.finditer(text)] if keywords is not None else []
        if keywords is not None and not keyword_ends:
            continue
        for match in rule.python.finditer(text):
            matched = match.group(0)
            if rule.ignore_words and any(word in matched for word in rule.ignore_words):
                continue
            # the data starts after any separator the pattern consumed before it
            reach = (
                match.start() + len(matched) - len(matched.lstrip(_SEPARATORS))
                if rule.distance_to_start
                else match.end()
            )
            if keywords is not None and not any(
                end <= match.start() + 1 and reach - end <= rule.distance for end in keyword_ends
            ):
                continue
            owners.append(index)
            found.append(matched)
    flags = [False] * len(texts)
    if not found:
        return flags
    valid = run_check(rule.check, pa.array(found, pa.string())).to_pylist()
    for owner, is_valid in zip(owners, valid, strict=True):
        if is_valid:
            flags[owner] = True
    return flags


def _flatten(batch: pa.RecordBatch) -> list[tuple[str, pa.Array, pa.Array | None]]:
    """Leaf columns with their JSON-path-like names (``person.name``, ``cards[*]``).

    Struct members get dotted names; list elements are scanned as one array whose third item
    maps each element to its record (row) in the batch. Maps are skipped.
    """
    columns: list[tuple[str, pa.Array, pa.Array | None]] = []

    def visit(name: str, array: pa.Array, rows: pa.Array | None) -> None:
        if pa.types.is_struct(array.type):
            for child_index in range(array.type.num_fields):
                child = array.type.field(child_index)
                visit(f"{name}.{child.name}", array.field(child_index), rows)
        elif pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
            parents = pc.list_parent_indices(array)
            visit(f"{name}[*]", pc.list_flatten(array), parents if rows is None else rows.take(parents))
        elif not pa.types.is_map(array.type):
            columns.append((name, array, rows))

    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        visit(name, column, None)
    return columns


def column_of(name: str) -> str:
    """The plan's column for a flattened name: ``cards[*]`` -> ``cards``, ``a[*].b`` -> ``a.b``."""
    return name.replace("[*]", "")


def classify_source(
    source: Source,
    *,
    key: str,
    bucket: str | None = None,
    custom_identifiers: Sequence[CustomIdentifier] = (),
    managed_identifier_ids: Sequence[str] | None = None,
    sample: int | None = None,
    fmt: str | None = None,
    account_id: str = "000000000000",
    region: str = "us-east-1",
    batch_size: int = 65536,
    max_occurrences: int = MAX_OCCURRENCES,
) -> Finding | None:
    """Scan a CSV/TSV, JSON/JSON Lines or Parquet table; a Macie finding, or None if nothing found.

    ``key`` is the object key (it names the table, DMS layout ``<schema>/<table>/<file>``, and
    gives the format when ``fmt`` is None); ``sample`` limits the scan to the first rows.
    ``max_occurrences`` bounds the locations kept per type (Macie's discovery results keep up
    to 1,000; its findings show 15).
    """
    kind = format_of(key, fmt)
    managed = select_managed(list(managed_identifier_ids) if managed_identifier_ids is not None else None)
    rules = rules_for(managed, custom_identifiers, account_id, region)
    reader: Iterable[pa.RecordBatch]
    if kind in ("csv", "tsv") and isinstance(source, bytes | str | os.PathLike):
        # Arrow parses small blocks faster (they stay in cache); the scan wants big batches
        blocks = open_batches(source, fmt=kind, key=key, block_bytes=READ_BLOCK_BYTES)
        reader = _coalesced(blocks, DEFAULT_BLOCK_BYTES)
    else:
        reader = open_batches(source, fmt=kind, batch_size=batch_size, key=key)
    scanners: dict[str, ColumnScanner] = {}
    tallies: dict[tuple[str, bool], _Tally] = {}
    row_base = 0
    size = len(source) if isinstance(source, bytes) else None
    for batch in reader:
        if sample is not None and row_base >= sample:
            break
        if sample is not None and row_base + batch.num_rows > sample:
            batch = batch.slice(0, sample - row_base)
        leaves = [(name, as_strings(column), parents) for name, column, parents in _flatten(batch)]
        for name, _, _ in leaves:
            if name not in scanners:
                scanners[name] = ColumnScanner(name=name, index=len(scanners), rules=rules)
        probe_columns([scanners[name] for name, _, _ in leaves], [strings for _, strings, _ in leaves])
        # the columns' scans side by side, so that their tests of one regex are one call (one
        # after the other when two leaves share a name, hence a scanner)
        steps = [scanners[name].scan_steps(strings) for name, strings, _ in leaves]
        together = len({name for name, _, _ in leaves}) == len(leaves)
        found = _run_together(steps) if together else [_run(scan) for scan in steps]
        for (name, _, parents), hits in zip(leaves, found, strict=True):
            scanner = scanners[name]
            rows_by_type: dict[tuple[str, bool], list[pa.Array]] = {}
            first_rule: dict[tuple[str, bool], Rule] = {}
            for position, rows in hits.items():
                if parents is not None:  # list elements: count and report the records holding them
                    rows = pc.unique(parents.take(rows))
                rule = rules[position]
                rows_by_type.setdefault((rule.type, rule.custom), []).append(rows)
                first_rule.setdefault((rule.type, rule.custom), rule)
            _drop_names_within_addresses(rows_by_type)
            for type_key, row_arrays in rows_by_type.items():
                # several rules of one type may hit the same cell: count it once (ascending rows)
                rows = row_arrays[0] if len(row_arrays) == 1 else _union_rows(row_arrays, batch.num_rows)
                tally = tallies.setdefault(type_key, _Tally(first_rule[type_key]))
                tally.count += len(rows)
                tally.columns[column_of(name)] = tally.columns.get(column_of(name), 0) + len(rows)
                if len(tally.occurrences) < max_occurrences:
                    chosen = rows.slice(0, max_occurrences)
                    tally.occurrences.extend((row_base + row, scanner.index, name) for row in chosen.to_pylist())
        row_base += batch.num_rows
    if not tallies:
        return None
    if size is None and isinstance(source, str | os.PathLike):
        size = os.path.getsize(source)
    structured_cells = kind in ("csv", "tsv")
    detections = tuple(_detection(tally, structured_cells, max_occurrences) for tally in tallies.values())
    return Finding(
        bucket=bucket or "local",
        key=key,
        table=table_from_key(key),
        detections=detections,
        account_id=account_id,
        region=region,
        size_classified=size,
        mime_type=_MIME[kind],
    )


def _coalesced(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Consecutive batches joined into batches of at least ``size`` bytes (the last one may be smaller)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.nbytes
        if held >= size:
            yield _joined(pending)
            pending, held = [], 0
    if pending:
        yield _joined(pending)


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches).combine_chunks()
    return pa.RecordBatch.from_arrays([column.chunk(0) for column in table.columns], schema=table.schema)


def _drop_names_within_addresses(rows_by_type: dict[tuple[str, bool], list[pa.Array]]) -> None:
    """A name in a cell that holds an address is the address's street or place ("12 Emily Lane").

    The cell is reported (and masked) as an ADDRESS either way; only the NAME type goes.
    """
    names, addresses = rows_by_type.get(("NAME", False)), rows_by_type.get(("ADDRESS", False))
    if not names or not addresses:
        return
    address_rows = pa.concat_arrays(addresses)
    kept = [rows.filter(pc.invert(pc.is_in(rows, value_set=address_rows.cast(rows.type)))) for rows in names]
    if sum(len(rows) for rows in kept):
        rows_by_type[("NAME", False)] = kept
    else:
        del rows_by_type[("NAME", False)]


_MIME = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "parquet": "application/parquet",
}


def _detection(tally: _Tally, csv_like: bool, max_occurrences: int = MAX_OCCURRENCES) -> Detection:
    rule = tally.rule
    ordered = sorted(set(tally.occurrences))[:max_occurrences]
    if csv_like:
        cells = tuple(Cell(row=row + 2, column=index + 1, column_name=name) for row, index, name in ordered)
        records: tuple[Record, ...] = ()
    else:
        cells = ()
        records = tuple(Record(record_index=row, json_path=json_path_for(name)) for row, _, name in ordered)
    return Detection(
        type=rule.type,
        count=tally.count,
        columns=tuple(tally.columns),
        column_counts=dict(tally.columns),
        custom=rule.custom,
        category=rule.category,
        arn=rule.arn,
        cells=cells,
        records=records,
    )

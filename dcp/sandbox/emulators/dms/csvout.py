"""DMS's S3 CSV rendering, vectorised over Arrow batches, and the size-split file writer."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class CsvFormat:
    """The S3 target's CSV settings (S3Settings / extra connection attributes)."""

    delimiter: str = ","
    row_delimiter: str = "\n"
    null_value: str = ""
    header: bool = False
    rfc4180: bool = True

    def quote_cell(self, text: str) -> str:
        if self.rfc4180 and re.search(f'["\r\n{re.escape(self.delimiter)}]', text):
            return '"' + text.replace('"', '""') + '"'
        return text

    def header_line(self, names: Sequence[str]) -> bytes:
        return (self.delimiter.join(self.quote_cell(n) for n in names) + self.row_delimiter).encode()


def _as_text(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    t = col.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        # DMS writes binary columns as hex; binary columns are rare, so a row loop is acceptable here.
        return pa.array([None if v is None else v.hex().upper() for v in col.to_pylist()], pa.string())
    if pa.types.is_null(t):
        return pa.nulls(len(col), pa.string())
    return pc.cast(col, pa.string())


def render_lines(batch: pa.RecordBatch, fmt: CsvFormat) -> pa.Array:
    """Each row as one CSV line (no row delimiter): quoted per RFC 4180 when needed, null as null_value."""
    special = f'["\r\n{re.escape(fmt.delimiter)}]'
    parts = []
    for col in batch.columns:
        text = _as_text(col)
        if fmt.rfc4180:
            needs = pc.match_substring_regex(text, special)
            quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
            text = pc.if_else(needs, quoted, text)
        parts.append(pc.fill_null(text, fmt.null_value))
    if not parts:
        return pa.array([""] * batch.num_rows, pa.string())
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, fmt.delimiter)


def prefix_lines(lines: pa.Array, prefix: str) -> pa.Array:
    """`prefix` + each line (the `Op` column of change records)."""
    return pc.binary_join_element_wise(prefix, lines, "")


def lines_to_bytes(lines: pa.Array, row_delimiter: str) -> bytes:
    """The file body of `lines`: each followed by the row delimiter."""
    if len(lines) == 0:
        return b""
    ended = pc.binary_join_element_wise(lines, row_delimiter, "")
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(ended)], pa.int32()), ended), "")
    return joined[0].as_buffer().to_pybytes()


class SplitFileWriter:
    """Writes `<prefix>N.csv` files of at most `max_bytes` each; `on_file(path, number)` ships a full one."""

    def __init__(
        self,
        workdir: Path,
        header: bytes,
        max_bytes: int,
        on_file: Callable[[Path, int], None],
        first_number: int = 1,
    ) -> None:
        self.workdir, self.header, self.max_bytes, self.on_file = workdir, header, max_bytes, on_file
        self.number = first_number - 1
        self.path: Path | None = None
        self.size = 0
        self._f = None
        workdir.mkdir(parents=True, exist_ok=True)

    def _open(self) -> None:
        self.number += 1
        self.path = self.workdir / f"part{self.number:08d}.csv"
        self._f = self.path.open("wb")  # type: ignore[assignment]
        self._f.write(self.header)  # type: ignore[attr-defined]
        self.size = len(self.header)

    def write(self, lines: pa.Array, row_delimiter: str) -> None:
        """Append `lines` (each + row delimiter), starting a new file where one would pass max_bytes."""
        if len(lines) == 0:
            return
        sizes = pc.add(pc.binary_length(lines), len(row_delimiter.encode()))
        while len(lines):
            if self._f is None:
                self._open()
            room = self.max_bytes - self.size
            fits = int(pc.sum(pc.less_equal(pc.cumulative_sum(sizes), room)).as_py() or 0)
            if fits == 0 and self.size > len(self.header):
                self.close_file()
                continue
            take = max(fits, 1)  # a row larger than max_bytes still gets a file
            body = lines_to_bytes(lines.slice(0, take), row_delimiter)
            self._f.write(body)  # type: ignore[attr-defined]
            self.size += len(body)
            lines, sizes = lines.slice(take), sizes.slice(take)

    def close_file(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
            assert self.path is not None
            self.on_file(self.path, self.number)
            self.path.unlink(missing_ok=True)

    def close(self) -> int:
        """Ship the last file; the number of files written."""
        self.close_file()
        return self.number

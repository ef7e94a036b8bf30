"""Masking transforms on Arrow arrays: redact, partial, token (encrypt lives in crypto.py).

Every transform keeps nulls null and returns a string array: non-string columns (integers,
dates, timestamps, decimals) are cast to their Arrow string form first, so a masked
``birthdate`` of type date32 (1980-05-17) becomes the string ``****-*5-17`` under ``partial``.

No transform returns the original value of a non-null cell, except that a value made only
of mask characters ("****") cannot be told apart from its own redaction.
"""

from __future__ import annotations

import hashlib
import re

import pyarrow as pa
import pyarrow.compute as pc

MASK_CHAR = "*"
#: characters ``partial`` leaves in place so the shape of the value stays readable
SEPARATORS = r"\s\-./:@()+_,"
TOKEN_HEX_CHARS = 32
_PROBE = 4096


def as_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``values`` as a string array (casting non-strings; nested types are not supported)."""
    data = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(data.type):
        data = data.dictionary_decode()
    if pa.types.is_string(data.type):
        return data
    if pa.types.is_large_string(data.type):
        return data.cast(pa.string())
    if pa.types.is_binary(data.type) or pa.types.is_large_binary(data.type):
        return data.cast(pa.string())
    return pc.cast(data, pa.string())


def redact(values: pa.Array | pa.ChunkedArray, mask: str = "****") -> pa.Array:
    """Every non-null cell becomes ``mask``."""
    data = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return pc.if_else(pc.is_valid(data), pa.scalar(mask, pa.string()), pa.scalar(None, pa.string()))


def mask_all(values: pa.Array) -> pa.Array:
    """Every character of every cell becomes ``*`` (length kept)."""
    return _mask_characters(as_strings(values), keep_separators=False)


_KEEP_NONE = pa.array([ord(MASK_CHAR)] * 256, pa.uint8())
_KEEP_SEPARATORS = pa.array(
    [byte if re.match(rf"[{SEPARATORS}]", chr(byte)) and byte < 128 else ord(MASK_CHAR) for byte in range(256)],
    pa.uint8(),
)


def _mask_characters(data: pa.Array, *, keep_separators: bool) -> pa.Array:
    """Replace each character (but separators, if asked) with ``*``, keeping character counts.

    ASCII cells are rewritten byte by byte through a 256-entry lookup table over the whole
    data buffer (one vectorised take); only non-ASCII cells, whose characters span several
    bytes, go through the slower regex replacement.
    """
    if len(data) == 0:
        return data
    if data.offset or data.type != pa.string():
        data = pa.concat_arrays([data.cast(pa.string())])
    validity, offsets, buffer = data.buffers()
    if buffer is None or buffer.size == 0:
        return data
    table = _KEEP_SEPARATORS if keep_separators else _KEEP_NONE
    byte_values = pa.UInt8Array.from_buffers(pa.uint8(), buffer.size, [None, buffer])
    rewritten = pc.take(table, byte_values).buffers()[1]
    fast = pa.StringArray.from_buffers(len(data), offsets, rewritten, validity, data.null_count)
    ascii_rows = pc.fill_null(pc.string_is_ascii(data), True)
    if pc.all(ascii_rows).as_py():
        return fast
    wide = pc.invert(ascii_rows)
    pattern = rf"[^{SEPARATORS}]" if keep_separators else r"(?s)."
    slow = pc.replace_substring_regex(data.filter(wide), pattern=pattern, replacement=MASK_CHAR)
    return pc.replace_with_mask(fast, wide, slow)


def partial(values: pa.Array | pa.ChunkedArray, keep: int = 4) -> pa.Array:
    """Mask all but the last ``keep`` characters, keeping separators and length.

    ``4111-1111-1111-1111`` -> ``****-****-****-1111``. A value of at most ``2 * keep``
    characters keeps only half of them, and a value that would come out unchanged (only
    separators before the kept tail) is masked entirely, so the original never survives.
    """
    data = as_strings(values)
    kept = pc.min_element_wise(pc.divide(pc.utf8_length(data), 2), pa.scalar(keep, pa.int32()))
    distinct = [k for k in pc.unique(kept.drop_null()).to_pylist() if k is not None]
    result = pa.nulls(len(data), pa.string())
    # at most keep + 1 distinct tail lengths (only values shorter than 2 * keep differ)
    for tail_length in distinct:
        if tail_length:
            heads = pc.utf8_slice_codeunits(data, start=0, stop=-tail_length)
            tails = pc.utf8_slice_codeunits(data, start=-tail_length)
        else:
            heads, tails = data, pc.utf8_slice_codeunits(data, start=0, stop=0)
        masked = _mask_characters(heads, keep_separators=True)
        joined = pc.binary_join_element_wise(masked, tails, "")
        if len(distinct) == 1:
            result = joined
        else:
            result = pc.if_else(pc.fill_null(pc.equal(kept, tail_length), False), joined, result)
    unchanged = pc.fill_null(pc.equal(result, data), False)
    if pc.any(unchanged).as_py():
        result = pc.if_else(unchanged, mask_all(data), result)
    return result


def token(values: pa.Array | pa.ChunkedArray, key: bytes, *, hex_chars: int = TOKEN_HEX_CHARS) -> pa.Array:
    """Deterministic keyed token: the first ``hex_chars`` hex digits of keyed BLAKE2b.

    Equal inputs give equal tokens under one key (so tokens can be joined and counted);
    another key gives unrelated tokens. Each distinct value is hashed once.
    """
    if not key:
        raise ValueError("token needs a non-empty key (the project's token secret)")
    data = as_strings(values)
    digest_size = max(1, min(64, (hex_chars + 1) // 2))
    # BLAKE2b takes keys of up to 64 bytes; a longer secret is first hashed down to 64
    secret = key if len(key) <= 64 else hashlib.blake2b(key).digest()
    base = hashlib.blake2b(key=secret, digest_size=digest_size)

    def hashed(value: bytes) -> bytes:
        digest = base.copy()
        digest.update(value)
        return digest.digest()

    def tokens_of(plain: pa.Array) -> pa.Array:
        # one hex conversion for all values, cut into fixed-width tokens without a loop
        text = b"".join(map(hashed, plain.cast(pa.binary()).to_pylist())).hex().encode()
        width = digest_size * 2
        offsets = pa.array(range(0, len(text) + 1, width), pa.int32())
        tokens = pa.StringArray.from_buffers(len(plain), offsets.buffers()[1], pa.py_buffer(text))
        return pc.utf8_slice_codeunits(tokens, start=0, stop=hex_chars) if hex_chars < width else tokens

    probe = data.slice(0, _PROBE)
    if len(data) > _PROBE and 2 * pc.count_distinct(probe).as_py() > len(probe):
        # mostly distinct values: hashing each directly beats building a dictionary first
        if not data.null_count:
            return tokens_of(data)
        return pc.replace_with_mask(pa.nulls(len(data), pa.string()), pc.is_valid(data), tokens_of(data.drop_null()))
    encoded = data.dictionary_encode()
    return pc.take(tokens_of(encoded.dictionary), encoded.indices)

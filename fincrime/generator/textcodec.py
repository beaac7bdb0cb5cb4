"""Vectorized text building blocks: fixed-width ASCII fields as ``uint8`` matrices.

The generator never formats a row in Python. Every field of a batch is an ``(n, width)`` byte
matrix; a field whose text varies in length is *zero-padded* (``0`` bytes never occur in
N-Triples or CSV text), and :class:`RecordLayout` squeezes the zeros out when it joins the
fields into lines. So ``"Ann"`` padded to ``b"Ann\\0\\0"`` followed by ``b" "`` and ``b"Lee\\0"``
becomes ``b"Ann Lee"``.

>>> import numpy as np
>>> bytes(int_digits(np.array([7, 1234]), 5)[1])
b'\\x001234'
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

_HEX_PAIRS = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype="<u2")
_DEC_PAIRS = np.frombuffer(b"".join(f"{i:02d}".encode() for i in range(100)), dtype="<u2")
_POW10 = 10 ** np.arange(19, dtype=np.int64)


def hex_matrix(raw: np.ndarray) -> np.ndarray:
    """``(n, k)`` bytes -> ``(n, 2k)`` lowercase hex digits."""
    n, k = raw.shape
    return _HEX_PAIRS[raw].view(np.uint8).reshape(n, 2 * k)


def pairs(values: np.ndarray) -> np.ndarray:
    """Integers in 0..99 -> ``(n, 2)`` two-digit ASCII with a leading zero."""
    return _DEC_PAIRS[values].view(np.uint8).reshape(len(values), 2)


def int_digits(values: np.ndarray, width: int, *, min_digits: int = 1) -> np.ndarray:
    """Non-negative integers -> ``(n, width)`` right-aligned digits, leading positions zeroed.

    ``min_digits`` keeps that many low digits even when they are leading zeros (``5`` with
    ``min_digits=2`` gives ``05``).
    """
    v = np.asarray(values, dtype=np.int64)
    if not 1 <= width <= 18:
        raise ValueError(f"width {width} outside 1..18")
    if len(v) and int(v.max()) >= int(_POW10[width]):
        raise ValueError(f"value {int(v.max())} does not fit in {width} digits")
    powers = _POW10[width - 1 :: -1]
    out = ((v[:, None] // powers) % 10).astype(np.uint8) + np.uint8(48)
    keep = (v[:, None] >= powers) | (np.arange(width) >= width - min_digits)
    out[~keep] = 0
    return out


def digits_needed(max_value: int) -> int:
    """How many decimal digits the largest value needs (at least 1)."""
    return max(1, len(str(int(max_value))))


def datetime_matrix(seconds: np.ndarray) -> np.ndarray:
    """Seconds since 1970-01-01 (naive) -> ``(n, 19)`` ``YYYY-MM-DDTHH:MM:SS``.

    Civil-from-days arithmetic (proleptic Gregorian), valid for years 1000..9999.
    """
    s = np.asarray(seconds, dtype=np.int64)
    days, sod = np.divmod(s, 86400)
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    hour, rest = np.divmod(sod, 3600)
    minute, second = np.divmod(rest, 60)
    out = np.empty((len(s), 19), dtype=np.uint8)
    out[:, 0:2] = pairs(year // 100)
    out[:, 2:4] = pairs(year % 100)
    out[:, 4] = ord("-")
    out[:, 5:7] = pairs(month)
    out[:, 7] = ord("-")
    out[:, 8:10] = pairs(day)
    out[:, 10] = ord("T")
    out[:, 11:13] = pairs(hour)
    out[:, 13] = ord(":")
    out[:, 14:16] = pairs(minute)
    out[:, 16] = ord(":")
    out[:, 17:19] = pairs(second)
    return out


def amount_matrix(cents: np.ndarray, *, whole_units: bool) -> np.ndarray:
    """Amounts in cents -> xsd:decimal lexical forms, zero-padded.

    ``whole_units`` prints ``4656000`` (the reference's integers; cents must be multiples of
    100); otherwise always two decimals: ``1234.50``.
    """
    c = np.asarray(cents, dtype=np.int64)
    units, frac = np.divmod(c, 100)
    width = digits_needed(int(units.max()) if len(units) else 0)
    if whole_units:
        return int_digits(units, width)
    out = np.empty((len(c), width + 3), dtype=np.uint8)
    out[:, :width] = int_digits(units, width)
    out[:, width] = ord(".")
    out[:, width + 1 :] = pairs(frac)
    return out


def choose_text(flags: np.ndarray, if_true: bytes, if_false: bytes) -> np.ndarray:
    """Booleans -> one of two texts, zero-padded to the longer."""
    width = max(len(if_true), len(if_false))
    table = np.zeros((2, width), dtype=np.uint8)
    table[0, : len(if_false)] = np.frombuffer(if_false, dtype=np.uint8)
    table[1, : len(if_true)] = np.frombuffer(if_true, dtype=np.uint8)
    return table[np.asarray(flags, dtype=np.intp)]


def text_table(words: Sequence[str]) -> np.ndarray:
    """A list of ASCII words -> ``(len, max_len)`` zero-padded matrix (a lookup table)."""
    encoded = [w.encode("ascii") for w in words]
    width = max(len(w) for w in encoded)
    table = np.zeros((len(encoded), width), dtype=np.uint8)
    for i, w in enumerate(encoded):
        table[i, : len(w)] = np.frombuffer(w, dtype=np.uint8)
    return table


def left_align(padded: np.ndarray, suffix: bytes, width: int) -> np.ndarray:
    """Right-aligned zero-padded text + ``suffix`` -> ``(n, width)`` left-aligned, zeros after.

    >>> import numpy as np
    >>> bytes(left_align(int_digits(np.array([42]), 4), b"!", 7)[0])
    b'42!\\x00\\x00\\x00\\x00'
    """
    n, w = padded.shape
    if width < w + len(suffix):
        raise ValueError(f"width {width} cannot hold {w} + {len(suffix)} bytes")
    text = np.zeros((n, width), dtype=np.uint8)
    text[:, :w] = padded
    text[:, w : w + len(suffix)] = np.frombuffer(suffix, dtype=np.uint8)
    lead = w - np.count_nonzero(padded, axis=1)
    out = np.zeros_like(text)
    for shift in np.unique(lead):  # a handful of distinct lengths per batch
        rows = lead == shift
        out[rows, : width - shift] = text[rows, shift:]
    return out


def squeeze_rows(matrix: np.ndarray) -> list[bytes]:
    """Each zero-padded row as its own ``bytes`` (for small tables such as ground truth)."""
    return [bytes(row[row != 0]) for row in matrix]


def padded_to_strings(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero-padded rows -> (int64 offsets of n+1, concatenated bytes) for Arrow string arrays.

    Padding zeros may sit anywhere in a row (they are dropped), as with :class:`RecordLayout`.
    """
    nonzero = matrix != 0
    lengths = nonzero.sum(axis=1, dtype=np.int64)
    offsets = np.zeros(len(matrix) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets, matrix[nonzero]


class RecordLayout:
    """A record: constant byte strings interleaved with named fixed-width field slots.

    Slots named in ``variable`` hold zero-padded text; a narrower value is right-aligned in
    its slot. Rendering squeezes the zeros out only when the layout has variable slots. When
    the only variable slot ends the record and its text is left-aligned (zeros trail, see
    :func:`left_align`), Arrow trims each row in one pass, several times faster than a
    byte mask.

    >>> import numpy as np
    >>> lay = RecordLayout([b"<", ("id", 3), b"> ", ("n", 4), b" .\\n"], variable={"n"})
    >>> ids = np.frombuffer(b"abcxyz", np.uint8).reshape(2, 3)
    >>> bytes(lay.render(2, id=ids, n=int_digits(np.array([5, 123]), 4)))
    b'<abc> 5 .\\n<xyz> 123 .\\n'
    """

    def __init__(
        self,
        parts: Sequence[bytes | tuple[str, int]],
        *,
        variable: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        self.variable = bool(variable)
        self.slots: list[tuple[str, int, int]] = []  # a field may fill several slots
        row = bytearray()
        for part in parts:
            if isinstance(part, bytes):
                row += part
            else:
                name, width = part
                self.slots.append((name, len(row), width))
                row += b"\0" * width
        unknown = set(variable) - {name for name, _, _ in self.slots}
        if unknown:
            raise ValueError(f"variable slots {sorted(unknown)} are not in the layout")
        self.template = np.frombuffer(bytes(row), dtype=np.uint8)
        self.width = len(row)
        self._local = threading.local()
        last_name, last_offset, last_width = self.slots[-1] if self.slots else ("", 0, 0)
        self.trailing = (
            set(variable) == {last_name}
            and last_offset + last_width == self.width
            and sum(1 for name, _, _ in self.slots if name == last_name) == 1
        )

    def render(self, n: int, /, **fields: np.ndarray) -> np.ndarray:
        """The ``n`` records as one flat ``uint8`` array, padding zeros removed."""
        matrix = self._matrix(n)
        for name, offset, width in self.slots:
            value = fields[name]
            if value.shape[1] > width:
                raise ValueError(f"field {name!r} is {value.shape[1]} wide, slot holds {width}")
            # a narrower value is right-aligned; the zeros on its left vanish below
            matrix[:, offset : offset + width - value.shape[1]] = 0
            matrix[:, offset + width - value.shape[1] : offset + width] = value
        flat = matrix.reshape(-1)
        if not self.variable:
            return flat
        if self.trailing:
            return _trim_rows(matrix)
        return flat[flat != 0]


    def _matrix(self, n: int) -> np.ndarray:
        """Rows with the constant bytes in place.

        Variable layouts return a fresh squeezed copy, so their matrix is kept per thread and
        reused: the constants are written once and a fresh ~10 MB buffer per chunk (page
        faults included) is avoided. Fixed layouts hand out the matrix itself, so get a new one.
        """
        if not self.variable:
            matrix = np.empty((n, self.width), dtype=np.uint8)
            matrix[:] = self.template
            return matrix
        scratch: np.ndarray | None = getattr(self._local, "scratch", None)
        if scratch is None or len(scratch) < n:
            scratch = np.empty((n, self.width), dtype=np.uint8)
            scratch[:] = self.template
            self._local.scratch = scratch
        return scratch[:n]


def _trim_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows with trailing zeros -> their texts back to back (Arrow string view, no copy in)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n, width = matrix.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    rows = pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(matrix)]
    )
    trimmed = pc.ascii_rtrim(rows, characters="\0")
    _, offs, data = trimmed.buffers()
    bounds = np.frombuffer(offs, dtype=np.int64)
    return np.frombuffer(data, dtype=np.uint8)[bounds[0] : bounds[n]]

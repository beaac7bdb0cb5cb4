"""N-Triples reading and writing.

Reading has two paths that agree on every line: a vectorized fast path (one regular expression
run by polars over all lines of a file, in Rust) for the plain lines that make up nearly all real
data, and a strict character-level parser for everything else (escapes, non-ASCII blank-node
labels) and for errors, which it reports as ``file:line:column``. Terms come out in the canonical
spelling of :mod:`fincrime.rdf.terms`.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.nt"
>>> _ = p.write_text('<http://x/a> <http://x/p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> .\\n')
>>> read_ntriples([p]).row(0)
('<http://x/a>', '<http://x/p>', '"1"^^<http://www.w3.org/2001/XMLSchema#integer>')
"""

from __future__ import annotations

import gzip
import io
import os
import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from fincrime.errors import SourceError
from fincrime.rdf.gzipstream import ParallelGzip
from fincrime.rdf.terms import XSD_STRING, escape_string, unescape_string

_IRI = r'<[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20<>"{}|^`\\]*>'
_BNODE = r"_:[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?"
_LITERAL = r'"[^"\\\n\r]*"(?:\^\^' + _IRI + r"|@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*)?"
_FAST_LINE = (
    rf"^[ \t]*({_IRI}|{_BNODE})[ \t]*({_IRI})[ \t]*({_IRI}|{_BNODE}|{_LITERAL})"
    r"[ \t]*\.[ \t]*(?:#.*)?\r?$"
)
_SKIP_LINE = r"^[ \t]*(?:#.*)?\r?$"
_CANONICAL_LINE = rf"^(?:{_IRI}|{_BNODE}) {_IRI} (?:{_IRI}|{_BNODE}|{_LITERAL}) \.$"
_STRING_SUFFIX = f"^^<{XSD_STRING}>"

ProgressFn = Callable[[int], None]


def open_text(path: Path) -> str:
    """Read a (possibly gzipped) UTF-8 file; a bad byte is reported with its line."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise SourceError(f"not a valid gzip file ({exc})", source=str(path), line=1) from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SourceError("invalid UTF-8", source=str(path), line=line, column=column) from exc


def read_ntriples(
    paths: Iterable[str | os.PathLike[str]], *, on_file: ProgressFn | None = None
) -> pl.DataFrame:
    """All triples of the given files as a DataFrame of canonical term strings ``s, p, o``.

    Duplicates are kept (callers deduplicate once, after encoding). ``on_file`` is called with
    each file's triple count, for progress bars.
    """
    frames = []
    for path in paths:
        frame = parse_document(open_text(Path(path)), str(path))
        if on_file is not None:
            on_file(frame.height)
        frames.append(frame)
    if not frames:
        return pl.DataFrame(schema={"s": pl.String, "p": pl.String, "o": pl.String})
    return pl.concat(frames, rechunk=True)


def parse_document(text: str, source: str = "<string>") -> pl.DataFrame:
    """Parse a whole N-Triples document; raise :class:`SourceError` at the first bad line.

    Three tiers, each taking what the one before left: lines in canonical spacing (one space
    between terms, `` .`` at the end: what generators and stores write) are checked by one
    regular expression and split, the fastest path; other regular lines are split by a capturing
    expression; the rest (escapes, unusual labels, errors) go to the strict parser.
    """
    lines = pl.DataFrame({"text": text.split("\n")}).with_row_index("line", offset=1)
    canonical = lines.filter(pl.col("text").str.contains(_CANONICAL_LINE))
    split = canonical.select(
        "line", pl.col("text").str.splitn(" ", 3).alias("parts")
    ).unnest("parts").rename({"field_0": "s", "field_1": "p", "field_2": "rest"})
    frames = [split.select("line", "s", "p", pl.col("rest").str.head(-2).alias("o"))]
    others = lines.join(canonical.select("line"), on="line", how="anti").filter(
        ~pl.col("text").str.contains(_SKIP_LINE)
    )
    if others.height:
        parts = others.with_columns(pl.col("text").str.extract_groups(_FAST_LINE).alias("m")).unnest("m")
        parts = parts.rename({"1": "s", "2": "p", "3": "o"})
        frames.append(parts.filter(pl.col("s").is_not_null()).select("line", "s", "p", "o"))
        slow = parts.filter(pl.col("s").is_null())
        if slow.height:
            rows = [
                (n, *parse_line(t, source, n))
                for n, t in zip(slow["line"].to_list(), slow["text"].to_list(), strict=True)
            ]
            frames.append(
                pl.DataFrame(
                    rows, schema={"line": pl.UInt32, "s": pl.String, "p": pl.String, "o": pl.String},
                    orient="row",
                )
            )
    out = pl.concat([f.with_columns(pl.col("line").cast(pl.UInt32)) for f in frames])
    if len(frames) > 1:
        out = out.sort("line")
    return _canonical_objects(out.select("s", "p", "o"))


def _canonical_objects(frame: pl.DataFrame) -> pl.DataFrame:
    """Fast-path spelling fixes: drop ``^^xsd:string``, lower-case language tags."""
    o = pl.col("o")
    needs = frame.select(
        (o.str.ends_with(_STRING_SUFFIX) | o.str.contains('"@', literal=True)).any()
    ).item()
    if not needs:
        return frame
    lang = o.str.extract(r'"@([^"]*)$', 1)
    return frame.with_columns(
        pl.when(o.str.ends_with(_STRING_SUFFIX))
        .then(o.str.head(-len(_STRING_SUFFIX)))
        .when(lang.is_not_null() & (lang != lang.str.to_lowercase()))
        .then(o.str.replace(r'"@[^"]*$', '"@') + lang.str.to_lowercase())
        .otherwise(o)
        .alias("o")
    )


# --- strict parser -----------------------------------------------------------------------------

_IRI_FORBIDDEN = set('<>"{}|^`\\') | {chr(c) for c in range(0x21)}
_LANG_RE = re.compile(r"[a-zA-Z]+(?:-[a-zA-Z0-9]+)*")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def _is_pn_chars_u(c: str) -> bool:
    return c.isalpha() or c == "_" or c == ":" or ord(c) >= 0x80


class _Cursor:
    def __init__(self, text: str, source: str, line: int) -> None:
        self.text, self.source, self.line, self.i = text, source, line, 0

    def fail(self, message: str, at: int | None = None) -> SourceError:
        column = (self.i if at is None else at) + 1
        return SourceError(message, source=self.source, line=self.line, column=column, text=self.text)

    def ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\r":
            self.i += 1

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def iri(self) -> str:
        start = self.i
        self.i += 1  # '<'
        out: list[str] = []
        while True:
            c = self.peek()
            if c == "":
                raise self.fail("unterminated IRI", start)
            if c == ">":
                self.i += 1
                break
            if c == "\\":
                esc = self.text[self.i + 1 : self.i + 2]
                width = {"u": 4, "U": 8}.get(esc)
                digits = self.text[self.i + 2 : self.i + 2 + (width or 0)]
                if not width or len(digits) != width or not all(
                    d in "0123456789abcdefABCDEF" for d in digits
                ):
                    raise self.fail("bad escape in IRI")
                ch = chr(int(digits, 16))
                if ch in _IRI_FORBIDDEN:
                    raise self.fail(f"character {ch!r} not allowed in an IRI")
                out.append(ch)
                self.i += 2 + width
                continue
            if c in _IRI_FORBIDDEN:
                raise self.fail(f"character {c!r} not allowed in an IRI")
            out.append(c)
            self.i += 1
        value = "".join(out)
        if not _SCHEME_RE.match(value):
            raise self.fail("relative IRI (N-Triples needs absolute IRIs)", start)
        return f"<{value}>"

    def bnode(self) -> str:
        start = self.i
        if self.text[self.i : self.i + 2] != "_:":
            raise self.fail("expected a blank node '_:'")
        self.i += 2
        j = self.i
        if j >= len(self.text) or not (_is_pn_chars_u(self.text[j]) or self.text[j].isdigit()):
            raise self.fail("empty blank node label", start)
        while j < len(self.text) and (
            _is_pn_chars_u(self.text[j]) or self.text[j].isdigit() or self.text[j] in "-.\u00b7"
        ):
            j += 1
        while self.text[j - 1] == ".":  # a label cannot end with '.': that is the statement end
            j -= 1
        label = self.text[self.i : j]
        self.i = j
        return f"_:{label}"

    def literal(self) -> str:
        start = self.i
        self.i += 1
        j = self.i
        while True:
            if j >= len(self.text) or self.text[j] in "\n\r":
                raise self.fail("unterminated string literal", start)
            c = self.text[j]
            if c == "\\":
                j += 2
                continue
            if c == '"':
                break
            j += 1
        try:
            lexical = unescape_string(self.text[self.i : j])
        except ValueError as exc:
            raise self.fail(str(exc), self.i) from exc
        self.i = j + 1
        body = f'"{escape_string(lexical)}"'
        if self.peek() == "@":
            m = _LANG_RE.match(self.text, self.i + 1)
            if not m:
                raise self.fail("bad language tag")
            self.i = m.end()
            return f"{body}@{m.group(0).lower()}"
        if self.text.startswith("^^", self.i):
            self.i += 2
            if self.peek() != "<":
                raise self.fail("expected a datatype IRI after '^^'")
            datatype = self.iri()
            return body if datatype == f"<{XSD_STRING}>" else f"{body}^^{datatype}"
        return body

    def term(self, allowed: Sequence[str], role: str) -> str:
        c = self.peek()
        if c == "<" and "iri" in allowed:
            return self.iri()
        if c == "_" and "blank" in allowed:
            return self.bnode()
        if c == '"' and "literal" in allowed:
            return self.literal()
        kinds = " or ".join({"iri": "an IRI", "blank": "a blank node", "literal": "a literal"}[a] for a in allowed)
        found = repr(c) if c else "end of line"
        raise self.fail(f"expected {kinds} as {role}, found {found}")


def parse_line(text: str, source: str = "<string>", line: int = 1) -> tuple[str, str, str]:
    """Strictly parse one N-Triples statement into canonical term strings."""
    cur = _Cursor(text.rstrip("\n"), source, line)
    cur.ws()
    s = cur.term(("iri", "blank"), "subject")
    cur.ws()
    p = cur.term(("iri",), "predicate")
    cur.ws()
    o = cur.term(("iri", "blank", "literal"), "object")
    cur.ws()
    if cur.peek() != ".":
        raise cur.fail("expected '.' at the end of the triple")
    cur.i += 1
    cur.ws()
    if cur.peek() not in ("", "#"):
        raise cur.fail("unexpected text after the end of the triple")
    return s, p, o


# --- writing -----------------------------------------------------------------------------------


def write_ntriples(path: str | os.PathLike[str], triples: pl.DataFrame | Iterable[pl.DataFrame]) -> int:
    """Write ``s, p, o`` frames of canonical terms as N-Triples (gzip if ``.gz``), atomically.

    ``triples`` is one frame or an iterable of frames (written as they come, so a caller can
    stream). Returns the number of triples written; the file appears under its name only when
    complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    frames = [triples] if isinstance(triples, pl.DataFrame) else triples
    count = 0
    try:
        with _open_binary(tmp, compress=target.suffix == ".gz") as fh:
            for frame in frames:
                count += frame.height
                _write_frame(fh, frame)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return count


@contextmanager
def _open_binary(path: Path, compress: bool):  # type: ignore[no-untyped-def]
    """A binary sink; gzip on two threads with reproducible bytes (see :mod:`.gzipstream`)."""
    with open(path, "wb") as raw:
        if not compress:
            yield raw
            return
        with ParallelGzip(raw, path.name.removeprefix(".").removesuffix(".part"), level=3) as gz:
            yield gz


def _write_frame(fh, frame: pl.DataFrame, chunk: int = 500_000) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, frame.height, chunk):
        part = frame.slice(start, chunk).select(
            pl.concat_str([pl.col("s"), pl.col("p"), pl.col("o")], separator=" ") + " ."
        )
        buffer = io.BytesIO()
        # polars writes the lines straight to bytes (no per-line Python strings)
        part.write_csv(buffer, include_header=False, quote_style="never")
        fh.write(buffer.getvalue())

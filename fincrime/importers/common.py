"""What every importer writes: the reference vocabulary plus ground truth, streamed, atomically.

An import folder holds, like the generator's output (data-generator/README.md):

=======================  ====================================================================
``parties-0.nt.gz``      per account: ``a type:Party``, ``prop:hasFullName`` and ``rdfs:label``
                         (``"Bank 011 account 8000EBD30"``), ``prop:isSuspicious false`` (an
                         import knows no suspects: the labels are ground truth, not input)
``transactions-0.nt.gz`` per transfer: ``a type:Transaction``, ``prop:hasOriginator``,
                         ``prop:hasBeneficiary``, ``prop:hasAmount`` (xsd:decimal), ``prop:hasDate``
                         (xsd:dateTime, no time zone)
``ground-truth.nt``      per laundering attempt: ``type:LaunderingAttempt``, ``prop:hasTypology``,
                         ``prop:involvesTransaction``, ``prop:involvesParty``
``import.json``          the source files (with SHA-256), counts per typology, notes
=======================  ====================================================================

Files appear under their final names only once the whole import has succeeded; a malformed
row stops it with ``file:line: what is wrong`` and leaves an earlier import in the folder as it
was.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from fincrime.errors import InputError
from fincrime.rdf.terms import escape_string
from fincrime.vocab import ENT, PROP, RDF_TYPE, RDFS, TYPE, XSD

#: Typology names the public simulators use, mapped to the ground-truth vocabulary.
TYPOLOGY_NAMES = {
    "fan_in": "fan_in", "fan-in": "fan_in", "fanin": "fan_in",
    "fan_out": "fan_out", "fan-out": "fan_out", "fanout": "fan_out",
    "cycle": "cycle",
    "scatter_gather": "scatter_gather", "scatter-gather": "scatter_gather",
    "gather_scatter": "gather_scatter", "gather-scatter": "gather_scatter",
    "stack": "layering", "layering": "layering",
    "bipartite": "bipartite",
    "structuring": "structuring",
    "random": "random",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def typology_name(text: str) -> str:
    """``FAN-OUT`` -> ``fan_out``, ``stack`` -> ``layering``; unknown names kept, normalized."""
    key = text.strip().lower().replace(" ", "_")
    return TYPOLOGY_NAMES.get(key, TYPOLOGY_NAMES.get(key.replace("_", "-"), re.sub(r"[^a-z0-9]+", "_", key).strip("_") or "unknown"))


def local_part(text: str) -> str:
    """An identifier made safe for an IRI's local name (other characters percent-encoded)."""
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)


def party_iri(*parts: str) -> str:
    return f"<{ENT}party_{'_'.join(local_part(p) for p in parts)}>"


def transaction_iri(key: str) -> str:
    return f"<{ENT}transaction_{local_part(key)}>"


def attempt_iri(key: str) -> str:
    return f"<{ENT}attempt_{local_part(key)}>"


def decimal_text(value: str, where: str) -> str:
    """A non-negative amount in canonical xsd:decimal form, or an InputError at ``where``."""
    try:
        d = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise InputError(f"{where}: amount {value!r} is not a number") from None
    if not d.is_finite() or d < 0:
        raise InputError(f"{where}: amount {value!r} must be a finite number >= 0")
    text = format(d.normalize(), "f")
    return text if "." in text else text + ".0"


def datetime_text(value: datetime) -> str:
    return value.replace(tzinfo=None, microsecond=0).isoformat()


@dataclass
class Attempt:
    typology: str
    transactions: list[str] = field(default_factory=list)  # IRI terms
    parties: set[str] = field(default_factory=set)  # IRI terms


class ImportWriter:
    """Streams parties, transactions and ground truth into an import folder.

    Use as a context manager: on success everything is renamed into place; on any error the
    temporaries are removed and the folder keeps what it had.
    """

    def __init__(self, out: str | Path, source: str, *, overwrite: bool = False) -> None:
        self.out = Path(out)
        self.source = source
        self.overwrite = overwrite
        self.parties: dict[str, str] = {}  # IRI term -> label
        self.transactions = 0
        self.attempts: dict[str, Attempt] = {}  # attempt IRI term -> attempt
        self.notes: list[str] = []
        self.inputs: list[dict[str, Any]] = []
        self.extra: dict[str, Any] = {}  # more entries for import.json
        self._tmp: list[Path] = []
        self._tx: TextIO | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> ImportWriter:
        self.out.mkdir(parents=True, exist_ok=True)
        names = ("parties-0.nt.gz", "transactions-0.nt.gz", "ground-truth.nt", "import.json")
        present = [n for n in names if (self.out / n).exists()]
        if present and not self.overwrite:
            raise InputError(f"{self.out}: holds an earlier import ({', '.join(present)}); use --force to replace it")
        self._tx = self._open("transactions-0.nt.gz")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        if exc_type is not None:
            with contextlib.suppress(Exception):
                if self._tx is not None:
                    self._tx.close()
            for p in self._tmp:
                p.unlink(missing_ok=True)
            return
        self._finish()

    def _open(self, name: str) -> TextIO:
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{name}-", dir=self.out)
        os.close(fd)
        path = Path(tmp)
        self._tmp.append(path)
        if name.endswith(".gz"):
            raw = gzip.open(path, "wt", encoding="utf-8", compresslevel=1, newline="\n")  # noqa: SIM115 (closed in _finish / __exit__)
        else:
            raw = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        raw.final_name = name  # type: ignore[union-attr]
        raw.tmp_path = path  # type: ignore[union-attr]
        return raw  # type: ignore[return-value]

    # --- content -----------------------------------------------------------------------------
    def record_input(self, path: Path) -> None:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        self.inputs.append({"path": str(path.resolve()), "sha256": digest.hexdigest(), "bytes": path.stat().st_size})

    def party(self, term: str, label: str) -> str:
        if term not in self.parties:
            self.parties[term] = label
        return term

    def transaction(self, term: str, payer: str, payee: str, amount: str, date: str) -> None:
        assert self._tx is not None
        self._tx.write(
            f"{term} <{RDF_TYPE}> <{TYPE}Transaction> .\n"
            f"{term} <{PROP}hasOriginator> {payer} .\n"
            f"{term} <{PROP}hasBeneficiary> {payee} .\n"
            f'{term} <{PROP}hasAmount> "{amount}"^^<{XSD}decimal> .\n'
            f'{term} <{PROP}hasDate> "{date}"^^<{XSD}dateTime> .\n'
        )
        self.transactions += 1

    def attempt(self, term: str, typology: str) -> Attempt:
        if term not in self.attempts:
            self.attempts[term] = Attempt(typology)
        return self.attempts[term]

    # --- finish ------------------------------------------------------------------------------
    def _finish(self) -> None:
        assert self._tx is not None
        self._tx.close()
        parties = self._open("parties-0.nt.gz")
        for term, label in sorted(self.parties.items()):
            text = escape_string(label)
            parties.write(
                f"{term} <{RDF_TYPE}> <{TYPE}Party> .\n"
                f'{term} <{PROP}hasFullName> "{text}" .\n'
                f'{term} <{RDFS}label> "{text}" .\n'
                f'{term} <{PROP}isSuspicious> "false"^^<{XSD}boolean> .\n'
            )
        parties.close()
        truth = self._open("ground-truth.nt")
        for term, a in sorted(self.attempts.items()):
            truth.write(f"{term} <{RDF_TYPE}> <{TYPE}LaunderingAttempt> .\n")
            truth.write(f'{term} <{PROP}hasTypology> "{escape_string(a.typology)}" .\n')
            for t in a.transactions:
                truth.write(f"{term} <{PROP}involvesTransaction> {t} .\n")
            for p in sorted(a.parties):
                truth.write(f"{term} <{PROP}involvesParty> {p} .\n")
        truth.close()
        meta = self._open("import.json")
        meta.write(json.dumps(self.report(), indent=2) + "\n")
        meta.close()
        for handle in (self._tx, parties, truth, meta):
            os.replace(handle.tmp_path, self.out / handle.final_name)  # type: ignore[attr-defined]

    def report(self) -> dict[str, Any]:
        by: dict[str, int] = {}
        for a in self.attempts.values():
            by[a.typology] = by.get(a.typology, 0) + 1
        return {
            "source": self.source, "inputs": self.inputs,
            "counts": {"parties": len(self.parties), "transactions": self.transactions,
                       "attempts": dict(sorted(by.items()))},
            "notes": self.notes, **self.extra,
        }


class CsvFile:
    """A CSV file read row by row, with its header and clear ``file:line`` errors.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_text("a,b\\n1,2\\n")
    >>> with CsvFile(p) as f:
    ...     f.header, list(f.rows())
    (['a', 'b'], [(2, ['1', '2'])])
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.header: list[str] = []

    def __enter__(self) -> CsvFile:
        try:
            self._fh = open(self.path, encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        self._reader = csv.reader(self._fh)
        try:
            self.header = [h.strip() for h in next(self._reader)]
        except StopIteration:
            raise InputError(f"{self.path}:1: empty file (a header line is expected)") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{self.path}:1: {exc}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def column(self, *names: str, required: bool = True) -> int | None:
        """Index of the first of ``names`` in the header (case and ``_``/space blind)."""
        norm = [re.sub(r"[\s_]", "", h.lower()) for h in self.header]
        for name in names:
            key = re.sub(r"[\s_]", "", name.lower())
            if key in norm:
                return norm.index(key)
        if required:
            raise InputError(f"{self.path}:1: no column {names[0]!r} (header: {', '.join(self.header)})")
        return None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        width = len(self.header)
        try:
            for fields in self._reader:
                line = self._reader.line_num
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if len(fields) != width:
                    raise InputError(f"{self.path}:{line}: expected {width} fields, found {len(fields)}")
                yield line, fields
        except csv.Error as exc:
            raise InputError(f"{self.path}:{self._reader.line_num}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.path}:{self._reader.line_num + 1}: not UTF-8 text ({exc.reason})") from None

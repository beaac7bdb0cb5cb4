"""Reading input into Spark (N-Triples, plain or gzip, and the generator's Parquet tables) and
writing derived triples (N-Triples part files, Parquet, one N-Triples file).

N-Triples lines are split by Spark in parallel (one task per file part; gzip files one task
each) with the fast-path patterns of :mod:`fincrime.rdf.syntax`; the rare lines they do
not cover (escapes, unusual blank-node labels) and bad lines go through the strict parser on the
driver, so errors name the file and line exactly as the in-memory reader does.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from fincrime.engine.spark.values import escape_column
from fincrime.errors import InputError, SourceError
from fincrime.rdf import is_nquads, parse_line, read_text
from fincrime.rdf.syntax import CANONICAL_LINE, FAST_LINE, FAST_QUAD, SKIP_LINE, STRING_SUFFIX
from fincrime.rdf.terms import XSD_BOOLEAN, XSD_DATETIME, XSD_DECIMAL, iri
from fincrime.vocab import ENT, PROP, RDF_TYPE, RDFS, TYPE

MAX_SLOW_LINES = 1_000_000  # lines the driver parses itself; beyond this the input is not N-Triples


def read_inputs(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """All statements of the given files as canonical term strings ``s, p, o, g`` (``g``: the
    named graph of an N-Quads statement, null for the default graph; duplicates kept)."""
    nt, nq, parquet = [], [], []
    for p in paths:
        path = str(p)
        if "://" not in path and not Path(path).exists():
            raise InputError(f"{path}: no such data file")
        if path.endswith(".parquet") or Path(path).is_dir():
            parquet.append(path)
        else:
            (nq if is_nquads(path) else nt).append(path)
    no_graph = F.lit(None).cast("string").alias("g")
    frames = []
    if nt:
        frames.append(read_ntriples(spark, nt).select("s", "p", "o", no_graph))
    if nq:
        frames.append(read_nquads(spark, nq))
    frames += [read_parquet_table(spark, p).select("s", "p", "o", no_graph) for p in parquet]
    if not frames:
        return spark.createDataFrame([], "s string, p string, o string, g string")
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out


def _check_gzip_names(paths: Sequence[str]) -> None:
    for path in paths:
        if path.endswith(".gz") or "://" in path:
            continue
        with open(path, "rb") as fh:
            if fh.read(2) == b"\x1f\x8b":
                raise InputError(f"{path}: a gzip file without the .gz suffix", hint="rename it to end in .gz")


def read_ntriples(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """The triples of N-Triples files, in one pass over the lines.

    Lines the fast path does not cover come back *marked*: a null ``s``, the line in ``p`` and
    its file in ``o``; :func:`parse_marked` reads them with the strict parser on the driver
    (the executor collects them from the same cached frame it loads, so no line is read twice).
    """
    _check_gzip_names(paths)
    lines = spark.read.text(list(paths)).select("value", F.col("_metadata.file_path").alias("file"))
    lines = lines.filter(~F.col("value").rlike(SKIP_LINE))
    value = F.col("value")
    # Canonical lines (one space between terms) split on their first two spaces; other plain
    # lines (tabs, no spaces at all) are split by the capturing pattern, evaluated only for them.
    canonical = value.rlike(CANONICAL_LINE)
    parts = F.split(value, " ", 3)
    raw = lines.select(
        canonical.alias("c"), (canonical | value.rlike(FAST_LINE)).alias("ok"), parts.alias("parts"), "value", "file",
    )
    c, ok = F.col("c"), F.col("ok")

    def group(k: int) -> Column:
        return F.when(c, F.col("parts").getItem(k)).when(ok, F.regexp_extract(value, FAST_LINE, k + 1))

    rest = F.col("parts").getItem(2)
    obj = F.when(c, rest.substr(F.lit(1), F.length(rest) - 2)).when(ok, F.regexp_extract(value, FAST_LINE, 3))
    # the object is extracted in one projection and fixed up in the next (read by every branch)
    split = raw.select(group(0).alias("s"), F.when(ok, group(1)).otherwise(value).alias("p"), obj.alias("o"), ok, "file")
    return split.select(
        "s", "p", F.when(ok, _canonical_object(F.col("o"))).otherwise(F.col("file")).alias("o"),
    )


def read_nquads(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """The statements of N-Quads files (``s, p, o, g``), lines marked as in :func:`read_ntriples`."""
    _check_gzip_names(paths)
    lines = spark.read.text(list(paths)).select("value", F.col("_metadata.file_path").alias("file"))
    lines = lines.filter(~F.col("value").rlike(SKIP_LINE))
    value = F.col("value")
    raw = lines.select(value.rlike(FAST_QUAD).alias("ok"), "value", "file")
    ok = F.col("ok")

    def group(k: int) -> Column:
        return F.when(ok, F.regexp_extract(value, FAST_QUAD, k))

    graph = group(4)
    split = raw.select(group(1).alias("s"), F.when(ok, group(2)).otherwise(value).alias("p"), group(3).alias("o"),
                       F.when(graph != "", graph).alias("g"), ok, "file")
    return split.select(
        "s", "p", F.when(ok, _canonical_object(F.col("o"))).otherwise(F.col("file")).alias("o"), "g",
    )


def parse_marked(rows: Sequence[tuple[str, str]]) -> list[tuple[str, str, str, str | None]]:
    """Statements ``(s, p, o, g)`` of the marked lines ``(line, file)`` of :func:`read_ntriples`,
    by the strict parser; a bad line raises a :class:`SourceError` naming its file and line."""
    if len(rows) > MAX_SLOW_LINES:
        raise InputError(f"{rows[0][1]}: more than {MAX_SLOW_LINES:,} lines need the strict N-Triples parser",
                         hint="check that the data files are N-Triples")
    return [_parse_slow(line, file) for line, file in rows]


def _parse_slow(text: str, file: str) -> tuple[str, str, str, str | None]:
    local = file[len("file:"):] if file.startswith("file:") else file
    try:
        if is_nquads(local):
            return parse_line(text, local, 1, quads=True)  # type: ignore[return-value]
        s, p, o = parse_line(text, local, 1)
        return s, p, o, None
    except SourceError as exc:
        line = _line_number(local, text)
        raise SourceError(exc.reason, source=local, line=line, column=exc.column, text=text) from None


def _line_number(path: str, text: str) -> int:
    try:
        for n, line in enumerate(read_text(path).split("\n"), 1):
            if line.rstrip("\r") == text.rstrip("\r"):
                return n
    except (OSError, SourceError):
        pass
    return 1


def _canonical_object(o: Column) -> Column:
    """Fast-path spelling fixes: drop ``^^xsd:string``, lower-case language tags."""
    lang = F.regexp_extract(o, r'"@([^"]*)$', 1)
    return (
        F.when(o.endswith(STRING_SUFFIX), o.substr(F.lit(1), F.length(o) - len(STRING_SUFFIX)))
        .when((lang != "") & (lang != F.lower(lang)), F.concat(F.regexp_replace(o, r'"@[^"]*$', '"@'), F.lower(lang)))
        .otherwise(o)
    )


# --- the generator's Parquet tables ------------------------------------------------------------


def _table_facts(path: str) -> tuple[str, bool]:
    """The entity namespace (schema metadata) and whether amounts are whole units (the original
    profile writes ``4656000``, the realistic one ``1234.50``; generation.json says which)."""
    namespace = ENT
    try:
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        namespace = meta.get(b"fincrime.entities", ENT.encode()).decode()
    except Exception:  # a directory of parts or a remote path: the default namespace
        pass
    whole = False
    info = Path(path).parent / "generation.json"
    if info.is_file():
        with contextlib.suppress(OSError, ValueError):
            whole = json.loads(info.read_text()).get("config", {}).get("profile") == "original"
    return namespace, whole


def read_parquet_table(spark: SparkSession, path: str) -> DataFrame:
    """The triples of a generator ``parties`` or ``transactions`` Parquet table."""
    table = spark.read.parquet(path)
    cols = set(table.columns)
    namespace, whole = _table_facts(path)

    def node(c: str) -> Column:
        return F.concat(F.lit("<" + namespace), F.col(c), F.lit(">"))

    def typed(lex: Column, datatype: str) -> Column:
        return F.concat(F.lit('"'), lex, F.lit(f'"^^<{datatype}>'))

    def boolean(c: str) -> Column:
        return typed(F.when(F.col(c), F.lit("true")).otherwise(F.lit("false")), XSD_BOOLEAN)

    if {"id", "is_internal", "is_exited", "is_suspicious", "full_name"} <= cols:
        name = F.concat(F.lit('"'), escape_column(F.col("full_name")), F.lit('"'))
        objects = [
            (RDF_TYPE, F.lit(iri(TYPE + "Party"))), (PROP + "isInternal", boolean("is_internal")),
            (PROP + "isExited", boolean("is_exited")), (PROP + "isSuspicious", boolean("is_suspicious")),
            (PROP + "hasFullName", name), (RDFS + "label", name),
        ]
    elif {"id", "originator", "beneficiary", "amount", "date"} <= cols:
        amount = F.col("amount").cast("decimal(38,0)" if whole else "string").cast("string")
        objects = [
            (RDF_TYPE, F.lit(iri(TYPE + "Transaction"))), (PROP + "hasOriginator", node("originator")),
            (PROP + "hasBeneficiary", node("beneficiary")),
            (PROP + "hasDate", typed(F.date_format(F.col("date"), "yyyy-MM-dd'T'HH:mm:ss"), XSD_DATETIME)),
            (PROP + "hasAmount", typed(amount, XSD_DECIMAL)),
        ]
    else:
        raise InputError(f"{path}: not a generator table (columns {', '.join(sorted(cols))})",
                         hint="the Spark engine reads the parties and transactions tables of `fincrime generate --format parquet`")
    parts = [table.select(node("id").alias("s"), F.lit(iri(p)).alias("p"), o.alias("o")) for p, o in objects]
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


# --- writing -------------------------------------------------------------------------------------


def ntriples_lines(triples: DataFrame) -> DataFrame:
    """One N-Triples line per row (an N-Quads line where a ``g`` column holds a graph)."""
    graph = ["g"] if "g" in triples.columns else []  # concat_ws skips a null graph
    return triples.select(F.concat_ws(" ", "s", "p", "o", *graph, F.lit(".")).alias("value"))


def _atomic_dir(target: Path) -> Path:
    return target.with_name(f".{target.name}.part-{uuid.uuid4().hex[:8]}")


def write_parts(triples: DataFrame, directory: str, fmt: str = "nt") -> str:
    """Write triples as part files: ``nt`` / ``nt.gz`` (N-Triples) or ``parquet`` (s, p, o).

    A local directory appears under its name only when complete; it must not exist yet.
    """
    if fmt not in ("nt", "nt.gz", "parquet"):
        raise InputError(f"unknown output format {fmt!r} (choose nt, nt.gz or parquet)")
    local = "://" not in directory
    target = Path(directory)
    if local and target.exists():
        raise InputError(f"{directory}: already exists", hint="choose a new output directory")
    where = str(_atomic_dir(target)) if local else directory
    if local:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "parquet":
            triples.write.parquet(where)
        else:
            writer = ntriples_lines(triples).write
            if fmt == "nt.gz":
                writer = writer.option("compression", "gzip")
            writer.text(where)
        if local:
            os.replace(where, target)
    finally:
        if local and Path(where).exists():
            shutil.rmtree(where, ignore_errors=True)
    return directory


def _open_out(path: Path, gz: bool):  # type: ignore[no-untyped-def]
    return gzip.open(path, "wb", compresslevel=3) if gz else open(path, "wb")


def write_single(triples: DataFrame, path: str, local_master: bool) -> int:
    """One N-Triples file (gzip if ``.gz``), atomically; parts are concatenated when Spark can
    write them to this machine's disk, otherwise rows are streamed to the driver."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part-{uuid.uuid4().hex[:8]}")
    count = 0
    try:
        with _open_out(tmp, target.suffix == ".gz") as out:
            if local_master:
                parts = tmp.with_name(tmp.name + "-dir")
                try:
                    ntriples_lines(triples).write.text(str(parts))
                    for part in sorted(parts.glob("part-*")):
                        with open(part, "rb") as fh:
                            for block in iter(lambda fh=fh: fh.read(1 << 22), b""):
                                count += block.count(b"\n")
                                out.write(block)
                finally:
                    shutil.rmtree(parts, ignore_errors=True)
            else:
                for row in ntriples_lines(triples).toLocalIterator():
                    out.write(row["value"].encode() + b"\n")
                    count += 1
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return count

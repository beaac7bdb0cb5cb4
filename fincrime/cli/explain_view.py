"""What ``fincrime explain`` prints: a summary an investigator reads, then the derivation tree.

The summary names the fact and the rule that derived it; for a typology flag (or one of its
alerts) it adds the ``type:TypologyAlert`` evidence (the reason in one sentence, the numbers the
rule compared) and the transfers involved, largest first, ``limit`` of them with a
"… and N more" line. The derivation tree below is cut at ``depth`` levels and ``limit``
children a node, so a fan-in hub over thousands of transfers is a page, not 30,000 lines.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from fincrime.engine.explain import Derivation
from fincrime.engine.result import Result
from fincrime.evidence import FLAGS_PARTY, MEASURES, TypologyAlert, read_alerts
from fincrime.vocab import PROP

XSD = "http://www.w3.org/2001/XMLSchema#"

_TX_FIELDS = {PROP + "hasDate": "date", PROP + "hasOriginator": "from", PROP + "hasBeneficiary": "to",
              PROP + "hasAmount": "amount"}


def _bare(term: str) -> str:
    """An IRI without brackets, a literal's lexical form."""
    if term.startswith("<") and term.endswith(">"):
        return term[1:-1]
    if term.startswith('"'):
        return term[1:term.rfind('"')]
    return term


_NUMERIC = ("integer", "decimal", "double", "float", "long", "int")


def term_text(term: str, prefixes: dict[str, str]) -> str:
    """A term as an investigator reads it: prefixed names, numbers bare, other literals with a
    short datatype."""
    if term.startswith('"') and '"^^<' in term:
        lexical, _, datatype = term[1:].rpartition('"^^<')
        datatype = datatype.rstrip(">")
        if datatype.startswith(XSD) and datatype[len(XSD):] in _NUMERIC:
            return lexical
        return f'"{lexical}"^^{_prefixed(datatype, prefixes)}'
    if term.startswith("<") and term.endswith(">"):
        return _prefixed(term[1:-1], prefixes)
    return _prefixed(term, prefixes) if term.startswith(("http:", "https:", "urn:")) else term


def _prefixed(iri: str, prefixes: dict[str, str]) -> str:
    for name, ns in sorted({**prefixes, "xsd": XSD}.items(), key=lambda kv: -len(kv[1])):
        if ns and iri.startswith(ns):
            return f"{name}:{iri[len(ns):]}"
    return f"<{iri}>"


def node_label(node: Derivation, prefixes: dict[str, str]) -> str:
    """One line of the tree: the fact, and the rule (file:line) or where the fact came from."""
    terms = [term_text(t, prefixes) for t in node.fact]
    text = f"{term_text(node.table, prefixes)}({', '.join(terms)})" if node.table else " ".join(terms)
    text = escape(text)
    if node.input:
        return f"{text}  [dim](input)[/dim]"
    if node.rule is not None:
        pos = node.rule.rule.pos
        where = f"{Path(pos.source).name}:{pos.line}" if pos else "rule"
        return f"[bold]{text}[/bold]  [cyan]← {where}[/cyan] {node.note}"
    return f"{text}  [yellow]{node.note}[/yellow]"


def alerts_about(result: Result, subject: str) -> list[TypologyAlert]:
    """The typology alerts that flag ``subject`` (an N-Triples IRI), or ``subject`` if it is one."""
    derived = result.triples_frame()
    if derived.is_empty():
        return []
    flagging = derived.filter((pl.col("p") == f"<{FLAGS_PARTY}>") & (pl.col("o") == subject))["s"]
    wanted = pl.concat([flagging, pl.Series([subject])]).unique()
    rows = derived.filter(pl.col("s").is_in(wanted.implode()))
    return read_alerts((_bare(s), _bare(p), _bare(o)) for s, p, o in rows.iter_rows())


def transactions_of(result: Result, transactions: list[str]) -> pl.DataFrame:
    """Date, payer, payee and amount of the given transactions (bare IRIs) from the input."""
    wanted = pl.Series([f"<{t}>" for t in transactions]).implode()
    parts = [f.filter(pl.col("s").is_in(wanted) & pl.col("p").is_in(pl.Series([f"<{p}>" for p in _TX_FIELDS]).implode()))
             for f in result.frames(derived_only=False)]
    facts = pl.concat(parts) if parts else pl.DataFrame(schema={"s": pl.String, "p": pl.String, "o": pl.String})
    facts = facts.select(pl.col("s").map_elements(_bare, return_dtype=pl.String).alias("transaction"),
                         pl.col("p").str.slice(1).str.strip_suffix(">").replace_strict(_TX_FIELDS, default=None).alias("field"),
                         pl.col("o").map_elements(_bare, return_dtype=pl.String).alias("value"))
    table = facts.pivot(on="field", index="transaction", values="value", aggregate_function="first")
    for col in _TX_FIELDS.values():
        if col not in table.columns:
            table = table.with_columns(pl.lit(None, pl.String).alias(col))
    return (table.with_columns(pl.col("amount").cast(pl.Float64, strict=False).alias("value"))
            .sort(["value", "date", "transaction"], descending=[True, False, False], nulls_last=True))


def print_summary(console: Console, result: Result, tree: Derivation, short, limit: int) -> None:  # type: ignore[no-untyped-def]
    """The fact, its rule, and for a typology flag the alerts' evidence and transfers."""
    head = Table(show_header=False, box=None, pad_edge=False)
    head.add_column(style="bold")
    head.add_column()
    head.add_row("fact", escape(" ".join(short(t) for t in tree.fact)))
    if tree.input:
        head.add_row("derived by", "nothing: an input fact")
    elif tree.rule is not None:
        pos = tree.rule.rule.pos
        head.add_row("derived by", f"{Path(pos.source).name}:{pos.line}" if pos else "a rule")
    head.add_row("body facts", f"{len(tree.children):,}" + (f" ({tree.note})" if tree.note else ""))
    console.print(head)
    if tree.table is not None:
        return
    for alert in alerts_about(result, tree.fact[0]):
        _print_alert(console, result, alert, short, limit)


def _print_alert(console: Console, result: Result, alert: TypologyAlert, short, limit: int) -> None:  # type: ignore[no-untyped-def]
    ev = Table(title=f"evidence: {alert.typology} alert {escape(short('<' + alert.iri + '>'))}", show_header=False,
               title_justify="left")
    ev.add_column(style="bold")
    ev.add_column()
    ev.add_row("why", escape(alert.reason()))
    ev.add_row("window", f"{alert.start} .. {alert.end}")
    ev.add_row("parties", f"{len(alert.parties):,}: " + escape(", ".join(short(f"<{p}>") for p in alert.parties[:limit]))
               + (f" … and {len(alert.parties) - limit:,} more" if len(alert.parties) > limit else ""))
    for name in MEASURES:
        if name in alert.measures and name not in ("hasWindowStart", "hasWindowEnd"):
            ev.add_row(name.removeprefix("has"), alert.measures[name])
    ev.add_row("transactions", f"{len(alert.transactions):,}")
    console.print(ev)
    if not alert.transactions:
        return
    txs = transactions_of(result, alert.transactions)
    shown = txs.head(limit)
    table = Table(title=f"transactions involved, largest first ({shown.height} of {txs.height:,})", title_justify="left")
    for col, just in (("transaction", "left"), ("date", "left"), ("from", "left"), ("to", "left"), ("amount", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for row in shown.iter_rows(named=True):
        amount = f"{row['value']:,.2f}" if row["value"] is not None else (row["amount"] or "")
        names = [escape(short(f"<{row[c]}>")) if row[c] else "" for c in ("transaction", "from", "to")]
        table.add_row(names[0], row["date"] or "", names[1], names[2], amount)
    if txs.height > shown.height:
        table.add_row(f"… and {txs.height - shown.height:,} more", "", "", "", "", style="dim")
    console.print(table)


def derivation_tree(tree: Derivation, prefixes: dict[str, str], limit: int) -> Tree:
    """The tree with at most ``limit`` children a node and a "… and N more" line for the rest."""

    def label(node: Derivation) -> str:
        return node_label(node, prefixes)

    root = Tree(label(tree))

    def build(node: Derivation, into: Tree) -> None:
        for child in node.children[:limit]:
            build(child, into.add(label(child)))
        if len(node.children) > limit:
            into.add(f"[dim]… and {len(node.children) - limit:,} more (--limit)[/dim]")

    build(tree, root)
    return root

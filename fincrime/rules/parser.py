"""Parser of RDFox-dialect Datalog into :mod:`fincrime.rules.ast`.

Supported: ``PREFIX``/``@prefix``, ``BASE``/``base``/``@base``, ``#`` comments, facts, rules with
multi-atom heads, triple atoms ``[s, p, o]`` with ``a``, the shorthands ``:C(?x)`` (class) and
``:p(?x, ?y)`` (triple), n-ary tuple-table atoms (any arity other than 1 and 2, or a name in the
``tt:`` namespace), ``FILTER``, ``BIND``, ``NOT`` / ``NOT EXISTS ?v IN (...)`` and
``AGGREGATE(... ON ?g BIND F(?x) AS ?v ...)``. Errors carry file, line, column and a caret.

>>> prog = parse_program('[?x, a, :Hub] :- [?x, :p, ?y], FILTER(?y > 3) .', prefixes={"": "http://e/"})
>>> str(prog.rules[0].head[0])
'[?x, <http://www.w3.org/1999/02/22-rdf-syntax-ns#type>, <http://e/Hub>]'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urljoin

from fincrime.errors import InputError, SourceError
from fincrime.rdf.terms import XSD_BOOLEAN, XSD_DECIMAL, XSD_DOUBLE, XSD_INTEGER, iri, literal
from fincrime.rules.ast import (
    AggBind,
    Aggregate,
    Arg,
    Atom,
    Bind,
    BodyItem,
    Const,
    ECall,
    EConst,
    EVar,
    Expr,
    Filter,
    Negation,
    Pos,
    Program,
    Rule,
    Var,
)
from fincrime.rules.lexer import Token, tokenize
from fincrime.vocab import DEFAULT_PREFIXES, RDF_TYPE, TT

AGGREGATE_FUNCS = {"COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT"}
_COMPARISONS = {"=", "!=", "<", "<=", ">", ">="}


class _Parser:
    def __init__(self, text: str, source: str, prefixes: Mapping[str, str], base: str | None):
        self.text = text
        self.lines = text.split("\n")
        self.source = source
        self.tokens = tokenize(text, source)
        self.i = 0
        self.prefixes = dict(prefixes)
        self.base = base

    # --- token helpers --------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def fail(self, message: str, tok: Token | None = None) -> SourceError:
        t = tok or self.tok
        text = self.lines[t.line - 1] if 0 < t.line <= len(self.lines) else ""
        return SourceError(message, source=self.source, line=t.line, column=t.column, text=text)

    def pos(self, tok: Token | None = None) -> Pos:
        t = tok or self.tok
        return Pos(self.source, t.line, t.column)

    def is_punct(self, p: str) -> bool:
        return self.tok.kind == "PUNCT" and self.tok.text == p

    def is_name(self, *names: str) -> bool:
        return self.tok.kind == "NAME" and self.tok.value in names

    def expect_punct(self, p: str, what: str | None = None) -> Token:
        if not self.is_punct(p):
            found = self.tok.text or "end of file"
            raise self.fail(f"expected '{p}'{' ' + what if what else ''}, found {found!r}")
        return self.advance()

    def expect_name(self, name: str) -> Token:
        if not self.is_name(name):
            raise self.fail(f"expected {name}, found {self.tok.text or 'end of file'!r}")
        return self.advance()

    def expect_var(self) -> str:
        if self.tok.kind != "VAR":
            raise self.fail(f"expected a variable, found {self.tok.text or 'end of file'!r}")
        return self.advance().value

    # --- program --------------------------------------------------------------------------
    def program(self) -> list[Rule]:
        rules: list[Rule] = []
        while self.tok.kind != "EOF":
            if self.is_name("PREFIX", "@PREFIX"):
                self.directive_prefix()
            elif self.is_name("BASE", "@BASE"):
                self.directive_base()
            else:
                rules.append(self.rule())
        return rules

    def directive_prefix(self) -> None:
        at = self.advance().text.startswith("@")
        t = self.tok
        if t.kind != "PNAME" or not t.text.endswith(":"):
            raise self.fail("expected a prefix name such as 'prop:'")
        self.advance()
        if self.tok.kind != "IRI":
            raise self.fail("expected an IRI in angle brackets")
        self.prefixes[t.text[:-1]] = self.resolve(self.advance().value)
        if at:
            self.expect_punct(".", "after @prefix")

    def directive_base(self) -> None:
        at = self.advance().text.startswith("@")
        if self.tok.kind != "IRI":
            raise self.fail("expected an IRI in angle brackets")
        self.base = self.resolve(self.advance().value)
        if at:
            self.expect_punct(".", "after @base")

    def rule(self) -> Rule:
        start = self.tok
        head = [self.atom(head=True)]
        while self.is_punct(","):
            self.advance()
            head.append(self.atom(head=True))
        body: list[BodyItem] = []
        if self.is_punct(":-"):
            self.advance()
            body = self.body_items(stop=".")
        end = self.expect_punct(".", "at the end of the rule")
        text = self._span(start, end)
        return Rule(tuple(head), tuple(body), self.pos(start), text, self.base)

    def _span(self, start: Token, end: Token) -> str:
        lines = self.lines[start.line - 1 : end.line]
        if not lines:
            return ""
        lines[-1] = lines[-1][: end.column]
        lines[0] = lines[0][start.column - 1 :]
        return "\n".join(lines)

    # --- body -----------------------------------------------------------------------------
    def body_items(self, stop: str, allow_on: bool = False) -> list[BodyItem]:
        items = [self.body_item()]
        while self.is_punct(","):
            self.advance()
            items.append(self.body_item())
        if not (self.is_punct(stop) or (allow_on and self.is_name("ON", "BIND"))):
            raise self.fail(f"expected ',' or '{stop}', found {self.tok.text or 'end of file'!r}")
        return items

    def body_item(self) -> BodyItem:
        t = self.tok
        if self.is_name("FILTER"):
            self.advance()
            self.expect_punct("(", "after FILTER")
            e = self.expr()
            self.expect_punct(")", "to close FILTER")
            return Filter(e, self.pos(t))
        if self.is_name("BIND"):
            self.advance()
            self.expect_punct("(", "after BIND")
            e = self.expr()
            self.expect_name("AS")
            v = self.expect_var()
            self.expect_punct(")", "to close BIND")
            return Bind(e, v, self.pos(t))
        if self.is_name("NOT"):
            return self.negation()
        if self.is_name("AGGREGATE"):
            return self.aggregate()
        return self.atom(head=False)

    def negation(self) -> Negation:
        t = self.advance()
        exists: list[str] = []
        if self.is_name("EXISTS"):
            self.advance()
            exists.append(self.expect_var())
            while self.is_punct(","):
                self.advance()
                exists.append(self.expect_var())
            self.expect_name("IN")
        if self.is_punct("("):
            self.advance()
            items = self.body_items(stop=")")
            self.expect_punct(")")
        else:
            if exists:
                raise self.fail("expected '(' after NOT EXISTS ... IN")
            items = [self.atom(head=False)]
        for item in items:
            if isinstance(item, Negation | Aggregate | Bind):
                raise self.fail("NOT may contain only atoms and FILTERs", t)
        return Negation(tuple(items), tuple(exists), self.pos(t))

    def aggregate(self) -> Aggregate:
        t = self.advance()
        self.expect_punct("(", "after AGGREGATE")
        items = self.body_items(stop=")", allow_on=True)
        group: list[str] = []
        if self.is_name("ON"):
            self.advance()
            while self.tok.kind == "VAR":
                group.append(self.advance().value)
                if self.is_punct(","):
                    self.advance()
        binds: list[AggBind] = []
        while self.is_name("BIND"):
            self.advance()
            ft = self.tok
            if ft.kind != "NAME" or ft.value not in AGGREGATE_FUNCS:
                raise self.fail(f"expected an aggregate function ({', '.join(sorted(AGGREGATE_FUNCS))})")
            self.advance()
            self.expect_punct("(")
            distinct = False
            if self.is_name("DISTINCT"):
                self.advance()
                distinct = True
            args: list[Expr] = []
            if self.is_punct("*"):
                self.advance()
            elif not self.is_punct(")"):
                args.append(self.expr())
            separator = " "
            while self.is_punct(","):  # GROUP_CONCAT(?x, "sep") or SEPARATOR
                self.advance()
                if self.tok.kind == "STRING":
                    separator = self.advance().value
                else:
                    args.append(self.expr())
            self.expect_punct(")", f"to close {ft.value}")
            self.expect_name("AS")
            binds.append(AggBind(ft.value, tuple(args), self.expect_var(), distinct, separator))
        if not binds:
            raise self.fail("AGGREGATE needs at least one 'BIND F(...) AS ?v'")
        self.expect_punct(")", "to close AGGREGATE")
        return Aggregate(tuple(items), tuple(group), tuple(binds), self.pos(t))

    # --- atoms and terms ------------------------------------------------------------------
    def atom(self, head: bool) -> Atom:
        t = self.tok
        if self.is_punct("["):
            self.advance()
            s = self.arg()
            self.expect_punct(",", "between atom arguments")
            p = self.arg(predicate=True)
            self.expect_punct(",", "between atom arguments")
            o = self.arg()
            self.expect_punct("]", "to close the atom")
            return Atom((s, p, o), None, self.pos(t))
        if t.kind in ("PNAME", "IRI"):
            name = self.iri_of(self.advance())
            if not self.is_punct("("):
                raise self.fail("expected '(' after the predicate name", self.tok)
            self.advance()
            args: list[Arg] = []
            if not self.is_punct(")"):
                args.append(self.arg())
                while self.is_punct(","):
                    self.advance()
                    args.append(self.arg())
            self.expect_punct(")", "to close the atom")
            table_name = name[1:-1]
            if table_name.startswith(TT) or len(args) not in (1, 2):
                return Atom(tuple(args), table_name, self.pos(t))
            if len(args) == 1:
                return Atom((args[0], Const(iri(RDF_TYPE)), Const(name)), None, self.pos(t))
            return Atom((args[0], Const(name), args[1]), None, self.pos(t))
        what = "a head atom" if head else "an atom, FILTER, BIND, NOT or AGGREGATE"
        raise self.fail(f"expected {what}, found {t.text or 'end of file'!r}")

    def arg(self, predicate: bool = False) -> Arg:
        t = self.tok
        if t.kind == "VAR":
            self.advance()
            return Var(t.value)
        if predicate and t.kind == "NAME" and t.text == "a":
            self.advance()
            return Const(iri(RDF_TYPE))
        return Const(self.constant())

    def constant(self) -> str:
        t = self.tok
        if t.kind in ("IRI", "PNAME"):
            return self.iri_of(self.advance())
        if t.kind == "STRING":
            self.advance()
            if self.tok.kind == "LANG":
                return literal(t.value, lang=self.advance().value)
            if self.is_punct("^^"):
                self.advance()
                if self.tok.kind not in ("IRI", "PNAME"):
                    raise self.fail("expected a datatype IRI after '^^'")
                return literal(t.value, self.iri_of(self.advance())[1:-1])
            return literal(t.value)
        if t.kind == "NUMBER":
            self.advance()
            return number_literal(t.value)
        if self.is_punct("-") or self.is_punct("+"):
            sign = self.advance().text
            if self.tok.kind != "NUMBER":
                raise self.fail("expected a number after the sign")
            num = self.advance().value
            return number_literal(num if sign == "+" else "-" + num)
        if t.kind == "NAME" and t.value in ("TRUE", "FALSE"):
            self.advance()
            return literal(t.value.lower(), XSD_BOOLEAN)
        raise self.fail(f"expected a variable or a constant, found {t.text or 'end of file'!r}")

    def iri_of(self, t: Token) -> str:
        if t.kind == "IRI":
            return iri(self.resolve(t.value))
        prefix, _, local = t.text.partition(":")
        if prefix not in self.prefixes:
            raise self.fail(f"undeclared prefix '{prefix}:'", t)
        local = _unescape_local(local)
        return iri(self.prefixes[prefix] + local)

    def resolve(self, ref: str) -> str:
        if self.base and not _has_scheme(ref):
            return urljoin(self.base, ref)
        return ref

    # --- expressions ----------------------------------------------------------------------
    def expr(self) -> Expr:
        left = self.and_expr()
        while self.is_punct("||"):
            self.advance()
            left = ECall("||", (left, self.and_expr()))
        return left

    def and_expr(self) -> Expr:
        left = self.comparison()
        while self.is_punct("&&"):
            self.advance()
            left = ECall("&&", (left, self.comparison()))
        return left

    def comparison(self) -> Expr:
        left = self.additive()
        if self.tok.kind == "PUNCT" and self.tok.text in _COMPARISONS:
            op = self.advance().text
            return ECall(op, (left, self.additive()))
        if self.is_name("IN") or (self.is_name("NOT") and self._peek_name(1, "IN")):
            negate = self.is_name("NOT")
            if negate:
                self.advance()
            self.advance()
            self.expect_punct("(")
            options: list[Expr] = []
            if not self.is_punct(")"):
                options.append(self.expr())
                while self.is_punct(","):
                    self.advance()
                    options.append(self.expr())
            self.expect_punct(")")
            return ECall("NOT IN" if negate else "IN", (left, *options))
        return left

    def _peek_name(self, k: int, name: str) -> bool:
        t = self.tokens[min(self.i + k, len(self.tokens) - 1)]
        return t.kind == "NAME" and t.value == name

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.is_punct("+") or self.is_punct("-"):
            op = self.advance().text
            left = ECall(op, (left, self.multiplicative()))
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while self.is_punct("*") or self.is_punct("/"):
            op = self.advance().text
            left = ECall(op, (left, self.unary()))
        return left

    def unary(self) -> Expr:
        if self.is_punct("!"):
            self.advance()
            return ECall("!", (self.unary(),))
        if self.is_punct("-"):
            self.advance()
            if self.tok.kind == "NUMBER":
                return EConst(number_literal("-" + self.advance().value))
            return ECall("NEG", (self.unary(),))
        if self.is_punct("+"):
            self.advance()
            return self.unary()
        return self.primary()

    def primary(self) -> Expr:
        t = self.tok
        if self.is_punct("("):
            self.advance()
            e = self.expr()
            self.expect_punct(")")
            return e
        if t.kind == "VAR":
            self.advance()
            return EVar(t.value)
        if t.kind == "NAME" and t.value not in ("TRUE", "FALSE"):
            self.advance()
            if not self.is_punct("("):
                raise self.fail(f"unknown keyword {t.text!r} in an expression", t)
            return ECall(t.value, self.call_args(t))
        if t.kind in ("IRI", "PNAME"):
            name = self.iri_of(self.advance())
            if self.is_punct("("):
                return ECall(name, self.call_args(t))
            return EConst(name)
        return EConst(self.constant())

    def call_args(self, name: Token) -> tuple[Expr, ...]:
        self.expect_punct("(")
        args: list[Expr] = []
        if not self.is_punct(")"):
            args.append(self.expr())
            while self.is_punct(","):
                self.advance()
                args.append(self.expr())
        self.expect_punct(")", f"to close {name.text}(")
        return tuple(args)


def _has_scheme(ref: str) -> bool:
    head = ref.split(":", 1)[0]
    return ":" in ref and head[:1].isalpha() and all(c.isalnum() or c in "+.-" for c in head)


def _unescape_local(local: str) -> str:
    return local.replace("\\", "") if "\\" in local else local


def number_literal(text: str) -> str:
    if "e" in text.lower():
        return literal(text, XSD_DOUBLE)
    if "." in text:
        return literal(text, XSD_DECIMAL)
    return literal(text, XSD_INTEGER)


def parse_program(
    text: str,
    source: str = "<rules>",
    *,
    prefixes: Mapping[str, str] | None = None,
    base: str | None = None,
) -> Program:
    """Parse the text of one rule file. ``prefixes`` default to :data:`DEFAULT_PREFIXES`."""
    declared = dict(DEFAULT_PREFIXES if prefixes is None else {**DEFAULT_PREFIXES, **prefixes})
    parser = _Parser(text, source, declared, base)
    rules = parser.program()
    program = Program(rules=rules, prefixes=parser.prefixes, sources=[source])
    from fincrime.rules.check import check_program  # local: check imports the plan helpers

    check_program(program)
    return program


def parse_files(
    paths: Iterable[str | os.PathLike[str]],
    *,
    prefixes: Mapping[str, str] | None = None,
) -> Program:
    """Parse several rule files into one program (each file keeps its own prefixes and base)."""
    merged = Program()
    for path in paths:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise InputError(f"{p}: no such rule file") from exc
        except UnicodeDecodeError as exc:
            raise InputError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        part = parse_program(text, str(p), prefixes=prefixes)
        merged.rules.extend(part.rules)
        merged.sources.append(str(p))
        merged.prefixes.update(part.prefixes)
    return merged

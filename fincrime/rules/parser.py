"""Parser of RDFox-dialect Datalog into :mod:`fincrime.rules.ast`.

Supported: ``PREFIX``/``@prefix``, ``BASE``/``base``/``@base``, ``#`` comments, facts, rules with
multi-atom heads, triple atoms ``[s, p, o]`` with ``a`` and an optional named graph
(``[s, p, o] :G``, ``[s, p, o] ?g``), class and property atoms ``:C[?x]`` / ``:p[?x, ?y]`` (also
with a graph) and their older spelling ``:C(?x)`` / ``:p(?x, ?y)``, tuple-table atoms
``tt:name(...)`` / ``name(...)`` (see :meth:`_Parser.paren_atom` for how the two readings of
parentheses are told apart), ``rdfox:DefaultTriples(s, p, o)`` / ``rdfox:Quads(s, p, o, g)``,
``FILTER``, ``BIND``, ``NOT`` / ``NOT EXISTS ?v IN atom-or-(...)`` (also ``NOT EXIST``) and
``AGGREGATE(... ON ?g BIND F(?x) AS ?v ...)``. Errors carry file, line, column and a caret;
nesting is bounded (:data:`MAX_DEPTH`), so no input can exhaust the stack.

>>> prog = parse_program('[?x, a, :Hub] :- [?x, :p, ?y], FILTER(?y > 3) .', prefixes={"": "http://e/"})
>>> str(prog.rules[0].head[0])
'[?x, <http://www.w3.org/1999/02/22-rdf-syntax-ns#type>, <http://e/Hub>]'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urljoin

from fincrime.errors import InputError, SourceError
from fincrime.rdf.terms import (
    XSD_BOOLEAN,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_INTEGER,
    iri,
    literal,
    parse_term,
)
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
from fincrime.rules.builtins import (
    AGGREGATES,
    CASTS,
    FUNCTIONS,
    aggregate_error,
    arity_error,
    regex_error,
)
from fincrime.rules.lexer import Token, tokenize
from fincrime.vocab import DEFAULT_PREFIXES, RDF_TYPE, RDFOX, TT

AGGREGATE_FUNCS = frozenset(AGGREGATES)
#: Deepest nesting of parentheses, calls and NOT / AGGREGATE bodies, and the deepest expression
#: tree (``1 + 1 + ...`` is deep too): deeper input is refused with a clean error, so no input
#: can exhaust the stack of the parser or of the engines that walk the tree (RDFox rules nest a
#: few levels).
MAX_NESTING = 64
MAX_DEPTH = 100
#: Words that begin a body literal or a directive, so they cannot name a tuple table.
RESERVED = frozenset({"FILTER", "BIND", "NOT", "AGGREGATE", "EXISTS", "EXIST", "IN", "ON", "AS", "PREFIX",
                      "@PREFIX", "BASE", "@BASE", "TRUE", "FALSE", "A"})
#: RDFox's built-in tuple tables of the RDF dataset: read and written as triple atoms.
DEFAULT_TRIPLES = ("DefaultTriples", RDFOX + "DefaultTriples")
QUADS = ("Quads", RDFOX + "Quads")

_COMPARISONS = {"=", "!=", "<", "<=", ">", ">="}
# binding strength of binary operators (higher binds tighter); comparisons do not chain
_BINARY = {"||": 1, "&&": 2, **{op: 3 for op in _COMPARISONS}, "IN": 3, "NOT IN": 3, "+": 4, "-": 4, "*": 5, "/": 5}
_COMPARISON_LEVEL = 3


class _Parser:
    def __init__(self, text: str, source: str, prefixes: Mapping[str, str], base: str | None):
        self.text = text
        self.lines = text.split("\n")
        self.source = source
        self.tokens = tokenize(text, source)
        self.i = 0
        self.prefixes = dict(prefixes)
        self.base = base
        self.depth = 0
        self._depths: dict[int, tuple[int, Expr]] = {}  # id(node) -> (depth of its tree, node)

    # --- token helpers --------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

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

    def found(self) -> str:
        return repr(self.tok.text) if self.tok.text else "end of file"

    def expect_punct(self, p: str, what: str | None = None) -> Token:
        if not self.is_punct(p):
            raise self.fail(f"expected '{p}'{' ' + what if what else ''}, found {self.found()}")
        return self.advance()

    def expect_name(self, name: str) -> Token:
        if not self.is_name(name):
            raise self.fail(f"expected {name}, found {self.found()}")
        return self.advance()

    def expect_var(self) -> str:
        if self.tok.kind != "VAR":
            raise self.fail(f"expected a variable, found {self.found()}")
        return self.advance().value

    def enter(self) -> None:
        """One level deeper into nested syntax; refuses nesting beyond :data:`MAX_NESTING`."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"nested deeper than {MAX_NESTING} levels (parentheses, calls, NOT, AGGREGATE)")

    def leave(self) -> None:
        self.depth -= 1

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
            raise self.fail(f"expected ',' or '{stop}', found {self.found()}")
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
        if self.is_name("SKOLEM") and self.peek().kind == "PUNCT" and self.peek().text == "(":
            return self.skolem_atom()
        return self.atom(head=False)

    def skolem_atom(self) -> Bind | Filter:
        """RDFox's ``SKOLEM(t1, ..., tn, ?z)`` built-in atom: ``?z`` is the blank node that
        ``t1 ... tn`` determine, the same as ``BIND(SKOLEM(t1, ..., tn) AS ?z)``; a last argument
        that is a constant is tested instead (``FILTER(SKOLEM(t1, ..., tn) = c)``)."""
        t = self.advance()
        self.expect_punct("(", "after SKOLEM")
        args = self.atom_args(")")
        if len(args) < 2:
            raise self.fail("the SKOLEM atom takes the arguments and then the variable it binds: "
                            "SKOLEM(t1, ..., tn, ?z) with n >= 1", t)
        *inputs, out = args
        call = ECall("SKOLEM", tuple(EVar(a.name) if isinstance(a, Var) else EConst(a.term) for a in inputs),
                     self.pos(t))
        if isinstance(out, Var):
            return Bind(call, out.name, self.pos(t))
        return Filter(ECall("=", (call, EConst(out.term)), self.pos(t)), self.pos(t))

    def negation(self) -> Negation:
        """``NOT atom``, ``NOT (conj)``, ``NOT EXISTS ?v, ... IN atom`` or ``... IN (conj)``
        (RDFox also reads ``EXIST``; the variables may be separated by commas or spaces)."""
        t = self.advance()
        exists: list[str] = []
        if self.is_name("EXISTS", "EXIST"):
            self.advance()
            exists.append(self.expect_var())
            while self.tok.kind == "VAR" or (self.is_punct(",") and self.peek().kind == "VAR"):
                if self.is_punct(","):
                    self.advance()
                exists.append(self.expect_var())
            self.expect_name("IN")
        self.enter()
        try:
            if self.is_punct("("):
                self.advance()
                items = self.body_items(stop=")")
                self.expect_punct(")", "to close NOT")
            else:
                items = [self.atom(head=False)]
        finally:
            self.leave()
        for item in items:
            if isinstance(item, Negation | Aggregate | Bind):
                raise self.fail("NOT may contain only atoms and FILTERs", t)
        return Negation(tuple(items), tuple(exists), self.pos(t))

    def aggregate(self) -> Aggregate:
        t = self.advance()
        self.expect_punct("(", "after AGGREGATE")
        self.enter()
        try:
            items = self.body_items(stop=")", allow_on=True)
        finally:
            self.leave()
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
            binds.append(self.aggregate_bind())
        if not binds:
            raise self.fail("AGGREGATE needs at least one 'BIND F(...) AS ?v'")
        self.expect_punct(")", "to close AGGREGATE")
        return Aggregate(tuple(items), tuple(group), tuple(binds), self.pos(t))

    def aggregate_bind(self) -> AggBind:
        ft = self.tok
        if ft.kind != "NAME":
            raise self.fail(f"expected an aggregate function such as MIN or COUNT, found {self.found()}")
        if ft.value not in AGGREGATE_FUNCS:
            raise self.fail(aggregate_error(ft.value, 0) or "", ft)
        self.advance()
        self.expect_punct("(", f"after {ft.value}")
        distinct = False
        if self.is_name("DISTINCT"):
            self.advance()
            distinct = True
        args: list[Expr] = []
        star = False
        if self.is_punct("*"):
            self.advance()
            star = True
        elif not self.is_punct(")"):
            args.append(self.expr())
        separator = " "
        while self.is_punct(","):  # GROUP_CONCAT(?x, "sep"), or the key of an ARGMIN/ARGMAX form
            self.advance()
            if ft.value == "GROUP_CONCAT" and self.tok.kind == "STRING" and self.peek().text == ")":
                separator = self.advance().value
            else:
                args.append(self.expr())
        close = self.expect_punct(")", f"to close {ft.value}")
        if star and ft.value != "COUNT":
            raise self.fail(f"{ft.value}(*) is not allowed: only COUNT(*) counts answers", ft)
        if not star and ft.value == "COUNT" and not args:
            raise self.fail("COUNT needs an argument or '*'", close)
        problem = aggregate_error(ft.value, len(args))
        if problem:
            raise self.fail(problem, ft)
        self.expect_name("AS")
        return AggBind(ft.value, tuple(args), self.expect_var(), distinct, separator, self.pos(ft))

    # --- atoms and terms ------------------------------------------------------------------
    def atom(self, head: bool) -> Atom:
        t = self.tok
        if self.is_punct("["):
            self.advance()
            args = self.atom_args("]", triple=True)
            if len(args) != 3:
                raise self.fail(f"a triple atom [s, p, o] has three arguments, got {len(args)}", t)
            if isinstance(args[1], Const) and not args[1].term.startswith("<"):
                raise self.fail("a predicate must be an IRI or a variable", t)
            return Atom(tuple(args), None, self.pos(t), self.graph_term(), "")
        named = t.kind in ("PNAME", "IRI") or (t.kind == "NAME" and t.value not in RESERVED)
        if not named:
            what = "a head atom" if head else "an atom, FILTER, BIND, NOT or AGGREGATE"
            raise self.fail(f"expected {what}, found {self.found()}")
        name = self.advance().text if t.kind == "NAME" else self.iri_of(self.advance())[1:-1]
        if self.is_punct("["):
            return self.bracket_atom(t, name)
        if self.is_punct("("):
            return self.paren_atom(t, name)
        raise self.fail(f"expected '[' or '(' after {t.text!r}, found {self.found()}")

    def atom_args(self, close: str, triple: bool = False) -> list[Arg]:
        """Arguments up to ``close``; in a triple atom the second may be ``a`` (rdf:type)."""
        args: list[Arg] = []
        if not self.is_punct(close):
            args.append(self.arg())
            while self.is_punct(","):
                self.advance()
                args.append(self.arg(predicate=triple and len(args) == 1))
        if not self.is_punct(close):
            raise self.fail(f"expected ',' or '{close}' after an atom argument, found {self.found()}")
        self.advance()
        return args

    def bracket_atom(self, t: Token, name: str) -> Atom:
        """``:C[?x]`` (class atom) and ``:p[?x, ?y]`` (property atom), RDFox's current form."""
        if t.kind == "NAME":
            raise self.fail(f"a class or property name must be an IRI or a prefixed name, not {t.text!r}", t)
        self.advance()
        args = self.atom_args("]")
        if len(args) == 1:
            atom_args: tuple[Arg, ...] = (args[0], Const(iri(RDF_TYPE)), Const(iri(name)))
        elif len(args) == 2:
            atom_args = (args[0], Const(iri(name)), args[1])
        else:
            raise self.fail(
                f"{t.text}[...] has {len(args)} arguments: a class atom C[?x] takes one, a property atom p[?x, ?y] two", t
            )
        return Atom(atom_args, None, self.pos(t), self.graph_term(), "bracket")

    def paren_atom(self, t: Token, name: str) -> Atom:
        """``name(t1, ..., tn)``: a tuple-table atom in current RDFox; in RDFox 4/5 (and the
        reference rules' era) ``:C(?x)`` and ``:p(?x, ?y)`` were class and property atoms.

        Both readings are accepted where they cannot be confused: a bare name (``employee``),
        a name in the ``tt:`` namespace, or any other arity than one or two is a tuple table;
        an IRI with one or two arguments is a class / property atom, as the older syntax and
        the project's files read. ``rdfox:DefaultTriples(s, p, o)`` and
        ``rdfox:Quads(s, p, o, g)`` are RDFox's dataset tables: triples and named-graph triples.
        """
        self.advance()
        args = self.atom_args(")")
        if not args:
            raise self.fail(f"{t.text}() has no arguments: an atom needs at least one (RDFox has no nullary atoms)", t)
        if name in DEFAULT_TRIPLES or name in QUADS:
            want = 3 if name in DEFAULT_TRIPLES else 4
            if len(args) != want:
                raise self.fail(f"{t.text} has {want} columns, got {len(args)} arguments", t)
            graph = args[3] if want == 4 else None
            return Atom(tuple(args[:3]), None, self.pos(t), graph, "table")
        if t.kind == "NAME" or name.startswith(TT) or len(args) not in (1, 2):
            return Atom(tuple(args), name, self.pos(t), None, "table")
        if len(args) == 1:
            return Atom((args[0], Const(iri(RDF_TYPE)), Const(iri(name))), None, self.pos(t), None, "paren")
        return Atom((args[0], Const(iri(name)), args[1]), None, self.pos(t), None, "paren")

    def graph_term(self) -> Arg | None:
        """The named graph after a triple, class or property atom, if one is written."""
        t = self.tok
        if t.kind == "VAR":
            self.advance()
            return Var(t.value)
        if t.kind in ("IRI", "PNAME"):
            return Const(self.iri_of(self.advance()))
        if t.kind in ("STRING", "NUMBER") or (t.kind == "NAME" and t.value in ("TRUE", "FALSE")):
            raise self.fail("a graph name must be an IRI or a variable")
        return None

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
        raise self.fail(f"expected a variable or a constant, found {self.found()}")

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
    def node(self, op: str, args: tuple[Expr, ...], tok: Token) -> ECall:
        """A call node, checked: a known name with an accepted number of arguments, a tree no
        deeper than :data:`MAX_DEPTH` (a long chain ``1 + 1 + ...`` is deep too)."""
        depth = 1 + max((self._depths.get(id(a), (1, a))[0] for a in args), default=0)
        if depth > MAX_DEPTH:
            raise self.fail(f"expression nested deeper than {MAX_DEPTH} levels", tok)
        if op in FUNCTIONS:
            problem = arity_error(op, len(args))
        elif op in CASTS:
            problem = None if len(args) == 1 else f"the cast {tok.text} takes one argument, got {len(args)}"
        else:
            problem = f"unknown function {tok.text}"
        if problem is None and op == "REGEX":
            problem = _constant_regex_error(args)
        if problem:
            raise self.fail(problem, tok)
        call = ECall(op, args, self.pos(tok))
        self._depths[id(call)] = (depth, call)
        return call

    def expr(self, level: int = 1) -> Expr:
        """Operator precedence climbing: a loop per operator, a frame per right operand."""
        left = self.unary()
        compared = False
        while True:
            t = self.tok
            op = self._binary_op()
            if op is None or _BINARY[op] < level:
                return left
            strength = _BINARY[op]
            if strength == _COMPARISON_LEVEL:
                if compared:  # a < b < c: SPARQL compares two operands only
                    raise self.fail(f"comparisons do not chain: put parentheses around one side of {t.text!r}", t)
                compared = True
            if op in ("IN", "NOT IN"):
                left = self.in_list(left, op, t)
                continue
            self.advance()
            right = self.expr(strength + 1)
            left = self.node(op, (left, right), t)

    def _binary_op(self) -> str | None:
        t = self.tok
        if t.kind == "PUNCT" and t.text in _BINARY:
            return t.text
        if self.is_name("IN"):
            return "IN"
        if self.is_name("NOT") and self.peek().kind == "NAME" and self.peek().value == "IN":
            return "NOT IN"
        return None

    def in_list(self, left: Expr, op: str, t: Token) -> Expr:
        if op == "NOT IN":
            self.advance()
        self.advance()
        self.expect_punct("(", f"after {op}")
        self.enter()
        options: list[Expr] = []
        if not self.is_punct(")"):
            options.append(self.expr())
            while self.is_punct(","):
                self.advance()
                options.append(self.expr())
        self.expect_punct(")", f"to close {op} (...)")
        self.leave()
        return self.node(op, (left, *options), t)

    def unary(self) -> Expr:
        prefix: list[Token] = []
        while self.tok.kind == "PUNCT" and self.tok.text in ("!", "-", "+"):
            if self.tok.text == "-" and self.peek().kind == "NUMBER":
                break  # a negative number constant
            prefix.append(self.advance())
            if len(prefix) > MAX_DEPTH:
                raise self.fail(f"expression nested deeper than {MAX_DEPTH} levels", prefix[-1])
        if self.is_punct("-"):
            self.advance()
            operand: Expr = EConst(number_literal("-" + self.advance().value))
        else:
            operand = self.primary()
        for t in reversed(prefix):
            if t.text != "+":
                operand = self.node("!" if t.text == "!" else "NEG", (operand,), t)
        return operand

    def primary(self) -> Expr:
        t = self.tok
        if self.is_punct("("):
            self.advance()
            self.enter()
            e = self.expr()
            self.expect_punct(")", "to close '('")
            self.leave()
            return e
        if t.kind == "VAR":
            self.advance()
            return EVar(t.value)
        if t.kind == "NAME" and t.value not in ("TRUE", "FALSE"):
            self.advance()
            if not self.is_punct("("):
                raise self.fail(f"unknown keyword {t.text!r} in an expression", t)
            return self.node(t.value, self.call_args(t), t)
        if t.kind in ("IRI", "PNAME"):
            name = self.iri_of(self.advance())
            if self.is_punct("("):
                return self.node(name, self.call_args(t), t)
            return EConst(name)
        return EConst(self.constant())

    def call_args(self, name: Token) -> tuple[Expr, ...]:
        self.expect_punct("(")
        self.enter()
        args: list[Expr] = []
        if not self.is_punct(")"):
            args.append(self.expr())
            while self.is_punct(","):
                self.advance()
                args.append(self.expr())
        self.expect_punct(")", f"to close {name.text}(")
        self.leave()
        return tuple(args)


def _constant_regex_error(args: tuple[Expr, ...]) -> str | None:
    """A constant REGEX pattern (and flags) is checked now rather than when the rules run."""
    texts: list[str | None] = []
    for arg in args[1:]:
        if not isinstance(arg, EConst):
            texts.append(None)
            continue
        term = parse_term(arg.term)
        if term.kind != "literal":
            return "a REGEX pattern and its flags are strings"
        texts.append(term.value)
    pattern = texts[0]
    flags = texts[1] if len(texts) > 1 else ""
    if pattern is None:
        return None
    return regex_error(pattern, flags or "")


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


_PREFIX_NAME = re.compile(r"(?:[A-Za-z\u00c0-\ufffd](?:[A-Za-z_0-9\-.\u00c0-\ufffd]*[A-Za-z_0-9\-\u00c0-\ufffd])?)?")


def normalize_prefixes(prefixes: Mapping[str, str]) -> dict[str, str]:
    """Prefixes supplied by a caller: ``""`` and ``":"`` both name the default prefix (``prop``
    and ``prop:`` the same one), IRIs may be written with or without ``<>``; a bad name or a
    relative IRI is an error, never silently ignored.

    >>> normalize_prefixes({":": "<http://e/>", "ex:": "http://x/"})
    {'': 'http://e/', 'ex': 'http://x/'}
    """
    out: dict[str, str] = {}
    for raw_name, raw_iri in prefixes.items():
        name = raw_name.strip().removesuffix(":")
        value = str(raw_iri).strip().removeprefix("<").removesuffix(">")
        shown = f"{name}:" if name else "':' (the default prefix)"
        if not _PREFIX_NAME.fullmatch(name):
            raise InputError(f"bad prefix name {raw_name!r}", hint="a prefix name is like 'prop' or empty for ':'")
        if not _has_scheme(value) or any(c in value for c in ' <>"{}|^`\\') or any(ord(c) < 0x21 for c in value):
            raise InputError(f"prefix {shown} {raw_iri!r} is not an absolute IRI")
        out[name] = value
    return out


def parse_program(
    text: str,
    source: str = "<rules>",
    *,
    prefixes: Mapping[str, str] | None = None,
    base: str | None = None,
    check: bool = True,
) -> Program:
    """Parse the text of one rule file. ``prefixes`` add to (or replace) :data:`DEFAULT_PREFIXES`."""
    declared = dict(DEFAULT_PREFIXES if prefixes is None else {**DEFAULT_PREFIXES, **normalize_prefixes(prefixes)})
    parser = _Parser(text, source, declared, base)
    try:
        rules = parser.program()
    except RecursionError:  # a backstop: nesting is bounded, so this means a deeper bug
        raise parser.fail("the rules nest too deeply to parse") from None
    program = Program(rules=rules, prefixes=parser.prefixes, sources=[source])
    if check:
        from fincrime.rules.check import check_program  # local: check imports the plan helpers

        check_program(program)
    return program


def parse_files(
    paths: Iterable[str | os.PathLike[str]],
    *,
    prefixes: Mapping[str, str] | None = None,
) -> Program:
    """Parse several rule files into one program (each file keeps its own prefixes and base)."""
    from fincrime.rules.check import check_program

    merged = Program()
    for path in paths:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise InputError(f"{p}: no such rule file") from exc
        except IsADirectoryError as exc:
            raise InputError(f"{p}: a directory, not a rule file") from exc
        except UnicodeDecodeError as exc:
            raise InputError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        part = parse_program(text, str(p), prefixes=prefixes, check=False)
        merged.rules.extend(part.rules)
        merged.sources.append(str(p))
        merged.prefixes.update(part.prefixes)
    check_program(merged)
    return merged

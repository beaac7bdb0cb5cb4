"""Golden cases of the RDFox dialect (issue 13), shared by the memory and Spark tests.

Each case is rules, input statements and the derived facts expected, in a short form: ``:x``
is ``<http://e/x>``, ``a`` is rdf:type, a fourth element is the named graph.
"""

from __future__ import annotations

import re
from pathlib import Path

E = "http://e/"
A = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
OWL_SAME = "<http://www.w3.org/2002/07/owl#sameAs>"

CASES: dict[str, tuple[str, str, set[tuple[str, ...]]]] = {
    "bracket atoms": (
        ":Person[?x], :knows[?x, ?y] :- :teacherOf[?x, ?y] .",
        ":t :teacherOf :s .",
        {(":t", "a", ":Person"), (":t", ":knows", ":s")},
    ),
    "older shorthands and tuple tables": (
        "employee(?x, ?n) :- [?x, :name, ?n] .\n:Named(?x) :- employee(?x, ?n) .\n"
        ":named(?x, ?n) :- employee(?x, ?n), tt:ok(?n) .\ntt:ok(\"ann\") .\n:t3(?x, ?x, ?x) :- :Named[?x] .\n"
        ":Three[?x] :- :t3(?x, ?y, ?z) .",
        ':a :name "ann" .\n:b :name "bob" .',
        {(":a", "a", ":Named"), (":b", "a", ":Named"), (":a", ":named", '"ann"'), (":a", "a", ":Three"),
         (":b", "a", ":Three")},
    ),
    "named graphs": (
        "[?x, a, :Payer] :G :- [?x, :pays, ?y] .\n"
        ":Seen[?x] ?g :- [?x, :pays, ?y] ?g .\n"
        "[?x, :inGraph, ?g] :- :Payer[?x] ?g .\n"
        "[?x, :reach, ?y] :H :- [?x, :pays, ?y] :Src .\n"
        "[?x, :reach, ?z] :H :- [?x, :reach, ?y] :H, [?y, :pays, ?z] :Src .\n"
        "[?s, ?p, ?o] :Copy :- [?s, ?p, ?o] :Src .\n"
        ":Both[?x] :- :Payer[?x] :G, NOT :Seen[?x] :Src .\n"
        "[?g, :size, ?n] :- AGGREGATE([?x, :pays, ?y] ?g ON ?g BIND COUNT(?y) AS ?n) .\n"
        "rdfox:Quads(?x, :quad, ?y, :Q) :- rdfox:DefaultTriples(?x, :pays, ?y) .",
        ":a :pays :b .\n:b :pays :c :Src .\n:c :pays :d :Src .",
        {(":a", ":inGraph", ":G"), (":a", "a", ":Both"),
         (":Src", ":size", '"2"^^<http://www.w3.org/2001/XMLSchema#integer>'),
         (":Copy", ":size", '"2"^^<http://www.w3.org/2001/XMLSchema#integer>'),  # it copies Src's payments
         (":a", "a", ":Payer", ":G"), (":b", "a", ":Seen", ":Src"), (":c", "a", ":Seen", ":Src"),
         (":b", ":reach", ":c", ":H"), (":c", ":reach", ":d", ":H"), (":b", ":reach", ":d", ":H"),
         (":b", ":pays", ":c", ":Copy"), (":c", ":pays", ":d", ":Copy"),
         (":b", "a", ":Seen", ":Copy"), (":c", "a", ":Seen", ":Copy"), (":a", ":quad", ":b", ":Q")},
    ),
    "negation spellings": (
        ":NoOut[?x] :- :Node[?x], NOT EXISTS ?y IN [?x, :to, ?y] .\n"
        ":NoIn[?x] :- :Node[?x], NOT EXIST ?y IN (:to[?y, ?x]) .\n"
        ":Lonely[?x] :- :Node[?x], NOT EXISTS ?y, ?z IN ([?x, :to, ?y], [?z, :to, ?x]) .",
        ":a a :Node .\n:b a :Node .\n:c a :Node .\n:a :to :b .",
        {(":b", "a", ":NoOut"), (":c", "a", ":NoOut"), (":a", "a", ":NoIn"), (":c", "a", ":NoIn"),
         (":b", "a", ":Lonely"), (":c", "a", ":Lonely"), (":a", "a", ":Lonely")},
    ),
    "default prefixes": (
        "[?x, owl:sameAs, ?x] :- :Person[?x] .",
        ":p a :Person .",
        {(":p", OWL_SAME, ":p")},
    ),
    "facts and recursion": (
        ":edge[:n0, :n1] .\n:edge[:n1, :n2] .\n[:n2, :edge, :n3] .\n:Reach[:n0] .\n"
        ":Reach[?y] :- :Reach[?x], :edge[?x, ?y] .",
        "",
        {(":n0", ":edge", ":n1"), (":n1", ":edge", ":n2"), (":n2", ":edge", ":n3"), (":n0", "a", ":Reach"),
         (":n1", "a", ":Reach"), (":n2", "a", ":Reach"), (":n3", "a", ":Reach")},
    ),
}


def expand(text: str, base: str = E) -> str:
    """``:x`` -> ``<base x>`` in statements written in the short form."""
    return re.sub(r"(?<![\w<\"]):([A-Za-z]\w*)", lambda m: f"<{base}{m.group(1)}>", text)


def short(term: str | None, base: str = E) -> str | None:
    if term is None:
        return None
    if term == A:
        return "a"
    if term.startswith(f"<{base}") and term.endswith(">"):
        return ":" + term[len(base) + 1 : -1]
    return term


def write_data(folder: Path, name: str, data: str, base: str = E) -> Path:
    """The case's statements as an N-Quads file (``a`` is rdf:type)."""
    path = folder / f"{name.replace(' ', '-')}.nq"
    lines = [re.sub(r"(?<=\s)a(?=\s)", A, expand(line, base)) for line in data.splitlines() if line.strip()]
    path.write_text("".join(line + "\n" for line in lines))
    return path


def derived(quads, base: str = E) -> set[tuple[str, ...]]:  # type: ignore[no-untyped-def]
    out = set()
    for s, p, o, g in quads:
        row = (short(s, base), short(p, base), short(o, base))
        out.add(row if g is None else (*row, short(g, base)))
    return out  # type: ignore[return-value]

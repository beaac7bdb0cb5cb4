"""The engine against a deliberately naive evaluator, on random programs and facts.

Programs are layered so they are stratified by construction: ``d0`` is recursive over the input
predicates ``e0, e1``; ``d1`` reads them positively and negates ``e*``/``d0``; ``d2`` counts ``d1``
per subject (an aggregate over a lower layer). The naive evaluator enumerates substitutions by
brute force, layer by layer, until nothing changes.
"""

from __future__ import annotations

import itertools

from engine_support import E, facts, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CONSTS = ["c0", "c1", "c2", "c3"]
VARS = ["A", "B", "C"]
INT = "^^<http://www.w3.org/2001/XMLSchema#integer>"


@st.composite
def atoms(draw, preds):
    p = draw(st.sampled_from(preds))
    s = draw(st.sampled_from(VARS + CONSTS[:2]))
    o = draw(st.sampled_from(VARS + CONSTS[:2]))
    return (p, s, o)


@st.composite
def rules(draw, head_pred, pos_preds, neg_preds):
    body = draw(st.lists(atoms(pos_preds), min_size=1, max_size=3))
    bound = [t for _, s, o in body for t in (s, o) if t in VARS]
    if not bound:
        body.append((pos_preds[0], "A", "B"))
        bound = ["A", "B"]
    head = (head_pred, draw(st.sampled_from(bound)), draw(st.sampled_from(bound + CONSTS[:1])))
    negs = []
    if neg_preds and draw(st.booleans()):
        negs.append((draw(st.sampled_from(neg_preds)), draw(st.sampled_from(bound)), draw(st.sampled_from(bound + CONSTS[:2]))))
    filt = None
    if len(set(bound)) >= 2 and draw(st.booleans()):
        a, b = sorted(set(bound))[:2]
        filt = (a, b)
    return head, body, negs, filt


@st.composite
def programs(draw):
    layer0 = draw(st.lists(rules("d0", ["e0", "e1", "d0"], []), min_size=1, max_size=3))
    layer1 = draw(st.lists(rules("d1", ["e0", "d0", "d1"], ["e1", "d0"]), min_size=0, max_size=2))
    data = draw(st.sets(st.tuples(st.sampled_from(["e0", "e1"]), st.sampled_from(CONSTS), st.sampled_from(CONSTS)), max_size=12))
    return layer0, layer1, sorted(data), draw(st.booleans())


def term(t: str) -> str:
    return f"?{t}" if t in VARS else f":{t}"


def to_text(rule) -> str:
    head, body, negs, filt = rule
    parts = [f"[{term(s)}, :{p}, {term(o)}]" for p, s, o in body]
    parts += [f"NOT [{term(s)}, :{p}, {term(o)}]" for p, s, o in negs]
    if filt:
        parts.append(f"FILTER(?{filt[0]} != ?{filt[1]})")
    p, s, o = head
    return f"[{term(s)}, :{p}, {term(o)}] :- {', '.join(parts)} ."


def naive(layers, data, with_count):
    known = set(data)

    def matches(body, env):
        if not body:
            yield env
            return
        (p, s, o), rest = body[0], body[1:]
        for fp, fs, fo in list(known):
            if fp != p:
                continue
            e = dict(env)
            ok = True
            for t, v in ((s, fs), (o, fo)):
                if t in VARS:
                    if e.setdefault(t, v) != v:
                        ok = False
                elif t != v:
                    ok = False
            if ok:
                yield from matches(rest, e)

    for layer in layers:
        changed = True
        while changed:
            changed = False
            for head, body, negs, filt in layer:
                for env in list(matches(body, {})):
                    if filt and env[filt[0]] == env[filt[1]]:
                        continue
                    if any((p, env.get(s, s), env.get(o, o)) in known for p, s, o in negs):
                        continue
                    p, s, o = head
                    fact = (p, env.get(s, s), env.get(o, o))
                    if fact not in known:
                        known.add(fact)
                        changed = True
    out = {(f":{s}", f":{p}", f":{o}") for p, s, o in known - set(data)}
    if with_count:
        counts = {}
        for p, s, _o in known:
            if p == "d1":
                counts[s] = counts.get(s, 0) + 1
        out |= {(f":{s}", ":d2", f'"{n}"{INT}') for s, n in counts.items()}
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_engine_matches_naive_evaluation(program):
    layer0, layer1, data, with_count = program
    text = "\n".join(to_text(r) for r in itertools.chain(layer0, layer1))
    if with_count:
        text += "\n[?A, :d2, ?n] :- AGGREGATE([?A, :d1, ?B] ON ?A BIND COUNT(?B) AS ?n) ."
    nt = "".join(f"<{E}{s}> <{E}{p}> <{E}{o}> .\n" for p, s, o in data)
    got = facts(run(text, nt))
    assert got == naive([layer0, layer1], data, with_count), text

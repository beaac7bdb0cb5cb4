"""The plan's semi-naive variants, and the docstring examples of the plan and the Spark SQL builder."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from fincrime.rules import load_program
from fincrime.rules.parser import parse_program
from fincrime.rules.plan import build_plan, semi_naive_variants

ROOT = Path(__file__).resolve().parents[1]


def _rule(text: str, index: int = 0):  # type: ignore[no-untyped-def]
    plan = build_plan(parse_program(text, prefixes={"": "http://e/"}))
    return [rp for s in plan.strata for rp in s.rules][index]


def test_a_program_is_planned_once_until_its_rules_change(monkeypatch: pytest.MonkeyPatch) -> None:
    import fincrime.rules.plan as plan_module

    calls = []
    real = plan_module._plan
    monkeypatch.setattr(plan_module, "_plan", lambda p: calls.append(p) or real(p))
    program = load_program([ROOT / "rules" / "suspicious-chains.dlog"])  # checking plans it
    assert build_plan(program) is build_plan(program) and len(calls) == 1
    extra = parse_program("[?x, :q, ?y] :- [?x, :p, ?y] .", prefixes={"": "http://e/"})
    program.rules.extend(extra.rules)
    assert len(build_plan(program).rule_plans()) == len(real(program).rule_plans()) and len(calls) == 2


def test_chain_extension_reads_the_chain_once() -> None:
    program = load_program([ROOT / "rules" / "suspicious-chains.dlog"])
    plan = build_plan(program)
    extension = max((rp for s in plan.strata for rp in s.rules), key=lambda rp: len(rp.recursive_atoms))
    chain_atoms = [k for k in extension.recursive_atoms if "oldChain" in extension.body.atoms[k].variables()]
    assert len(chain_atoms) == 9
    variants = semi_naive_variants(extension, lambda k: True)
    keyed, *classic = variants
    assert keyed.pivot == "oldChain" and list(keyed.group) == chain_atoms
    assert [k for k, m in enumerate(keyed.modes) if m == "keyed"] == chain_atoms
    # the transaction atoms read relations chains also write (hasOriginator, hasBeneficiary):
    # each keeps a classic variant, with the chain's atoms reading old facts
    others = [k for k in extension.recursive_atoms if k not in chain_atoms]
    assert [v.modes.index("delta") for v in classic] == others
    assert all(v.modes[k] == "old" for v in classic for k in chain_atoms)
    # the classic scheme needs one evaluation per recursive atom
    assert len(semi_naive_variants(extension, lambda k: True, grouped=False)) == len(extension.recursive_atoms)


def test_atoms_outside_the_group_get_classic_variants_with_the_group_old() -> None:
    rp = _rule("[?a, :r, ?c] :- [?a, :r, ?b], [?a, :r, ?x], [?b, :r, ?c] .")
    variants = semi_naive_variants(rp, lambda k: True)
    assert [v.modes for v in variants] == [("keyed", "keyed", "full"), ("old", "old", "delta")]
    # only atoms whose relations have new facts get a variant
    only_last = semi_naive_variants(rp, lambda k: k == 2)
    assert [v.modes for v in only_last] == [("old", "old", "delta")]


def test_a_single_recursive_atom_keeps_the_classic_variant() -> None:
    rp = _rule("[?a, :r, ?c] :- [?a, :r, ?b], [?b, :e, ?c] .")
    assert [v.modes for v in semi_naive_variants(rp, lambda k: True)] == [("delta", "full")]
    assert semi_naive_variants(rp, lambda k: False) == []


@pytest.mark.parametrize("module", ["fincrime.rules.plan", "fincrime.engine.spark.sql"])
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0

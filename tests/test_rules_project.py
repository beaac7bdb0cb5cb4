"""The project's rule files (rules/*.dlog) on small hand-made graphs."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from fincrime.engine import materialize_frame
from fincrime.rdf import parse_document
from fincrime.rules import load_program

ROOT = Path(__file__).resolve().parent.parent
ENT = "http://oxfordsemantic.tech/transactions/entities#"
PROP = "http://oxfordsemantic.tech/transactions/properties#"
TYPE = "http://oxfordsemantic.tech/transactions/classes#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"


def party(name: str, suspicious: bool = False) -> str:
    flag = "true" if suspicious else "false"
    return (
        f"<{ENT}{name}> {RDF_TYPE} <{TYPE}Party> .\n"
        f'<{ENT}{name}> <{PROP}isSuspicious> "{flag}"^^<{XSD}boolean> .\n'
    )


def tx(name: str, payer: str, payee: str, amount: str, when: str) -> str:
    return (
        f"<{ENT}{name}> {RDF_TYPE} <{TYPE}Transaction> .\n"
        f"<{ENT}{name}> <{PROP}hasOriginator> <{ENT}{payer}> .\n"
        f"<{ENT}{name}> <{PROP}hasBeneficiary> <{ENT}{payee}> .\n"
        f'<{ENT}{name}> <{PROP}hasAmount> "{amount}"^^<{XSD}decimal> .\n'
        f'<{ENT}{name}> <{PROP}hasDate> "{when}"^^<{XSD}dateTime> .\n'
    )


def run(files: list[str], data: str, params: dict | None = None):
    program = load_program([ROOT / "rules" / f for f in files], params=params)
    return materialize_frame(program, parse_document(data))


def members(result, cls: str) -> set[str]:
    """Members of a class: entity local names (``hub``), other terms as they are (chains)."""
    def short(term: str) -> str:
        return term[len(ENT) + 1 : -1] if term.startswith(f"<{ENT}") else term

    return {short(s) for s, p, o in result.triples() if p == RDF_TYPE and o == f"<{TYPE}{cls}>"}


def chain_values(result, prop: str) -> dict[str, str]:
    return {s: o for s, p, o in result.triples() if p == f"<{PROP}{prop}>"}


CHAIN_DATA = (
    party("a", True) + party("b") + party("c") + party("d", True) + party("e")
    + tx("t1", "a", "b", "5000", "2024-01-01T10:00:00")
    + tx("t2", "b", "c", "3000", "2024-01-01T11:00:00")
    + tx("t3", "c", "d", "4000", "2024-01-01T12:00:00")
    + tx("t0", "b", "c", "9999", "2024-01-01T09:00:00")  # earlier than t1: cannot extend it
    + tx("t4", "d", "e", "100", "2024-01-01T13:00:00")
)


def test_chains_follow_time_order_and_carry_the_bottleneck():
    r = run(["suspicious-chains.dlog", "high-value-chains.dlog"], CHAIN_DATA, {"highValueThreshold": 2500})
    lengths = chain_values(r, "hasLength")
    assert sorted(int(v.split('"')[1]) for v in lengths.values()) == [1, 1, 2, 3, 4]  # t1.., t4
    suspicious = members(r, "SuspiciousChain")
    assert len(suspicious) == 1  # a -> b -> c -> d
    (key,) = suspicious
    assert lengths[key] == f'"3"^^<{XSD}integer>'
    assert chain_values(r, "hasMinimumAmount")[key] == f'"3000"^^<{XSD}decimal>'
    assert chain_values(r, "hasStartingAmount")[key] == f'"5000"^^<{XSD}decimal>'
    assert chain_values(r, "hasFinalAmount")[key] == f'"4000"^^<{XSD}decimal>'
    assert members(r, "HighValueChain") == suspicious  # bottleneck 3000 > 2500
    r2 = run(["suspicious-chains.dlog", "high-value-chains.dlog"], CHAIN_DATA, {"highValueThreshold": 3000})
    assert members(r2, "HighValueChain") == set()  # not strictly above


def test_max_chain_length_caps_the_chains():
    r = run(["suspicious-chains.dlog"], CHAIN_DATA, {"maxChainLength": 2})
    assert max(int(v.split('"')[1]) for v in chain_values(r, "hasLength").values()) == 2
    assert members(r, "SuspiciousChain") == set()


def background(n: int = 160, parties: int = 40, seed: int = 5) -> str:
    """Ordinary small payments between ordinary parties: the population the rules compare with."""
    rng = random.Random(seed)
    out = "".join(party(f"bg{i}") for i in range(parties))
    for i in range(n):
        a, b = rng.sample(range(parties), 2)
        day, hour = 1 + rng.randrange(20), 8 + rng.randrange(10)
        out += tx(f"bgt{i}", f"bg{a}", f"bg{b}", f"{rng.randint(10, 90)}.50", f"2024-01-{day:02d}T{hour:02d}:15:00")
    return out


NAMES = ("FanInHub", "FanOutHub", "CycleParty", "ScatterGatherParty", "GatherScatterHub", "LayeringParty",
         "StructuringAccount", "BipartiteParty")


def typology(data: str, params: dict | None = None) -> dict[str, set[str]]:
    return flags(run(["typologies.dlog"], data, params))


def flags(result) -> dict[str, set[str]]:
    return {n: members(result, n) for n in NAMES}


def alerts(result) -> dict[str, list[dict[str, list[str]]]]:
    """Typology alerts by typology: each a dict of property local name -> values (entities as
    local names, literals as their lexical form)."""
    nodes: dict[str, dict[str, list[str]]] = {}
    kinds = {s for s, p, o in result.triples() if p == RDF_TYPE and o == f"<{TYPE}TypologyAlert>"}
    for s, p, o in result.triples():
        if s in kinds and p.startswith(f"<{PROP}"):
            value = o[len(ENT) + 1 : -1] if o.startswith(f"<{ENT}") else o.split('"')[1] if o.startswith('"') else o
            nodes.setdefault(s, {}).setdefault(p[len(PROP) + 1 : -1], []).append(value)
    out: dict[str, list[dict[str, list[str]]]] = {}
    for node in nodes.values():
        out.setdefault(node["hasTypology"][0], []).append({k: sorted(v) for k, v in node.items()})
    return out


# --- one graph with every typology at its own parties, over ordinary background traffic -------
# (one rule run for all the positive cases; each scenario's variants are in VARIANTS below)


def fan_in(k: int = 6) -> str:
    data = party("hub")
    for i in range(k):
        data += party(f"src{i}") + tx(f"fin{i}", f"src{i}", "hub", f"{5000 + 37 * i}", f"2024-01-{3 + i % 2:02d}T1{i}:00:00")
    return data


def merchant() -> str:
    """A busy payee: 90 alike payments, as many as its volume predicts (never a fan-in)."""
    data = party("shop")
    for i in range(90):
        data += party(f"cust{i}") + tx(f"buy{i}", f"cust{i}", "shop", f"{40 + i % 30}.25", f"2024-01-{1 + i % 20:02d}T12:00:00")
    return data


def fan_out(spread: bool = False) -> str:
    data = party("fo")
    amounts = [4000 + 50 * i for i in range(6)]
    if spread:
        amounts[4], amounts[5] = 400_000, 40
    for i, a in enumerate(amounts):
        data += party(f"dst{i}") + tx(f"fout{i}", "fo", f"dst{i}", str(a), f"2024-01-05T1{i}:00:00")
    return data


def cycle(variant: str = "") -> str:
    dates = ["2024-01-04T10:00:00", "2024-01-04T11:00:00", "2024-01-05T12:00:00"]
    amounts = ["10000", "9700", "9500"]
    if variant == "back":
        dates[2] = "2024-01-04T09:00:00"
    if variant == "leaky":
        amounts[2] = "4000"
    if variant == "day":
        dates = ["2024-01-04T00:00:00"] * 3
    return (party("x") + party("y") + party("z") + tx("c1", "x", "y", amounts[0], dates[0])
            + tx("c2", "y", "z", amounts[1], dates[1]) + tx("c3", "z", "x", amounts[2], dates[2]))


def layering(variant: str = "") -> str:
    hops = [("a", "b", "50000", "01T09"), ("b", "c", "48700", "01T15"), ("c", "d", "47600", "02T10"),
            ("d", "e", "46100", "03T11"), ("e", "f", "45000", "03T18")]
    if variant == "slow":  # d holds the money 16 days: the chain ends at d
        hops[3:] = [("d", "e", "46100", "18T11"), ("e", "f", "45000", "18T18")]
    if variant == "kept":  # b keeps 40%: nothing passed on from a's payment
        hops[1] = ("b", "c", "30000", "01T15")
    data = "".join(party(p) for p in "abcdef")
    return data + "".join(tx(f"l{i}", f, t, a, f"2024-01-{w}:00:00") for i, (f, t, a, w) in enumerate(hops))


def scatter_gather(mules: int = 3) -> str:
    data = party("s") + party("g")
    for i in range(mules):
        data += party(f"m{i}") + tx(f"sc{i}", "s", f"m{i}", "8000", f"2024-01-03T1{i}:00:00")
        data += tx(f"ga{i}", f"m{i}", "g", f"{7700 - 10 * i}", f"2024-01-05T1{i}:00:00")
    return data


def gather_scatter(short: bool = False) -> str:
    data = party("h")
    for i in range(4):
        data += party(f"gin{i}") + tx(f"gs{i}", f"gin{i}", "h", f"{6000 + 40 * i}", f"2024-01-06T1{i}:00:00")
    for i in range(4):
        amount = 900 if short and i >= 2 else 5700 + 30 * i
        data += party(f"gout{i}") + tx(f"sg{i}", "h", f"gout{i}", str(amount), f"2024-01-07T1{i}:00:00")
    return data


def structuring(busy: bool = False) -> str:
    data = party("acct") + party("smurf0") + party("smurf1")
    for i in range(6):
        data += tx(f"dep{i}", f"smurf{i % 2}", "acct", f"{9500 + 20 * i}", f"2024-01-0{1 + i}T10:00:00")
    if busy:  # paid as often just over the threshold as just under it: a business, not structuring
        data += "".join(tx(f"over{i}", f"smurf{i % 2}", "acct", f"{10200 + 30 * i}", f"2024-01-1{i}T10:00:00")
                        for i in range(6))
    return data


def bipartite(incomplete: bool = False) -> str:
    data = "".join(party(p) for p in ("p1", "p2", "q1", "q2"))
    for i, (f, t) in enumerate([("p1", "q1"), ("p1", "q2"), ("p2", "q1"), ("p2", "q2")]):
        amount = 38 if incomplete and i == 3 else 3500 + 100 * i
        data += tx(f"bp{i}", f, t, str(amount), f"2024-01-08T1{i}:00:00")
    return data


EXPECTED = {
    "FanInHub": {"hub"}, "FanOutHub": {"fo"}, "CycleParty": {"x", "y", "z"},
    "ScatterGatherParty": {"s", "g", "m0", "m1", "m2"}, "GatherScatterHub": {"h"},
    "LayeringParty": set("abcdef"), "StructuringAccount": {"acct"}, "BipartiteParty": {"p1", "p2", "q1", "q2"},
}


@pytest.fixture(scope="module")
def every_typology():  # type: ignore[no-untyped-def]
    return run(["typologies.dlog"], background() + fan_in() + merchant() + fan_out() + cycle() + layering()
               + scatter_gather() + gather_scatter() + structuring() + bipartite())


def test_every_typology_flags_exactly_its_own_parties(every_typology):
    # the merchant, the background and the parties of the other typologies are never flagged;
    # the gather-scatter hub and the scatter-gather target are not also fan-in hubs
    assert flags(every_typology) == EXPECTED


def test_every_flag_has_an_alert_saying_why(every_typology):
    found = alerts(every_typology)
    assert set(found) == {"fan_in", "fan_out", "cycle", "scatter_gather", "gather_scatter", "layering",
                          "structuring", "bipartite"}
    for typ, nodes in found.items():  # every alert names its parties, transfers and window
        for node in nodes:
            assert node["flagsParty"] and node["involvesTransaction"], typ
            assert node["hasWindowStart"][0] <= node["hasWindowEnd"][0], typ
    flagged = {p for nodes in found.values() for n in nodes for p in n["flagsParty"]}
    assert flagged == set().union(*EXPECTED.values())
    (fan,) = found["fan_in"]
    assert fan["flagsParty"] == ["hub"] and fan["hasCounterpartyCount"] == ["6"]
    assert fan["involvesTransaction"] == [f"fin{i}" for i in range(6)]
    assert float(fan["hasExpectedCount"][0]) < 6 / 8  # the baseline the cluster was judged against
    assert (fan["hasWindowStart"], fan["hasWindowEnd"]) == (["2024-01-03T10:00:00"], ["2024-01-04T15:00:00"])
    (gs,) = found["gather_scatter"]
    assert (gs["hasInflowCount"], gs["hasOutflowCount"]) == (["4"], ["4"])
    assert (float(gs["hasInflowAmount"][0]), float(gs["hasOutflowAmount"][0])) == (24240.0, 22980.0)
    (cyc,) = found["cycle"]
    assert cyc["hasTransferCount"] == ["3"] and cyc["flagsParty"] == ["x", "y", "z"]
    (lay,) = found["layering"]
    assert lay["hasTransferCount"] == ["5"] and lay["involvesTransaction"] == [f"l{i}" for i in range(5)]
    (sg,) = found["scatter_gather"]
    assert sg["hasCounterpartyCount"] == ["3"] and len(sg["involvesTransaction"]) == 6
    (st,) = found["structuring"]
    assert (st["hasDepositsUnder"], st["hasDepositsOver"], st["hasThreshold"]) == (["6"], ["0"], ["10000"])
    (bp,) = found["bipartite"]
    assert bp["hasCounterpartyCount"] == ["2"] and len(bp["involvesTransaction"]) == 4


def test_variants_that_break_each_pattern():
    # one run: every scenario in a form that must not (or only partly) be flagged
    found = typology(background() + fan_in(k=4) + fan_out(spread=True) + cycle("back") + layering("slow")
                     + scatter_gather(mules=2) + gather_scatter(short=True) + structuring(busy=True)
                     + bipartite(incomplete=True))
    assert found["FanInHub"] == set()  # four payers are too few
    assert found["FanOutHub"] == set()  # six payees, but no longer six alike amounts
    assert found["CycleParty"] == set()  # the last hop goes back in time
    assert found["LayeringParty"] == {"a", "b", "c", "d"}  # d held the money 16 days
    assert found["ScatterGatherParty"] == set()  # two intermediaries are too few
    assert found["GatherScatterHub"] == set()  # half the collection stays with the hub
    assert found["StructuringAccount"] == set()
    assert found["BipartiteParty"] == set()


def test_fan_clusters_count_counterparties_new_to_the_party():
    """Six payers of alike amounts within two days are a fan-in when they never dealt with the
    hub before; when each has paid it (a small amount, weeks earlier) they are its regular
    counterparties, and the same payments are no evidence."""
    regular = "".join(tx(f"old{i}", f"src{i}", "hub", f"{40 + i}.25", f"2023-12-{10 + 2 * i:02d}T09:00:00")
                      for i in range(6))
    assert typology(background() + fan_in())["FanInHub"] == {"hub"}
    assert typology(background() + fan_in() + regular)["FanInHub"] == set()
    # the first contact is judged either way: a payee that paid the hub before is not new
    back = "".join(tx(f"back{i}", "hub", f"src{i}", f"{40 + i}.25", f"2023-12-{10 + 2 * i:02d}T09:00:00")
                   for i in range(6))
    assert typology(background() + fan_in() + back)["FanInHub"] == set()
    # same-day transfers are all first (day-resolution data): a fan on one day still counts
    one_day = fan_in().replace("2024-01-04T1", "2024-01-03T1")
    assert typology(background() + one_day)["FanInHub"] == {"hub"}


def test_leaky_and_same_day_variants():
    # few material payments here: the chance test (its own test below) would judge one similar
    # payment a tenth of the population, so it is off to test the margins alone
    found = typology(background() + cycle("leaky") + layering("kept").replace("<" + ENT + "l", "<" + ENT + "k"),
                     {"layeringChance": 1})
    assert found["CycleParty"] == set()  # most of the money stops at z
    assert found["LayeringParty"] == {"c", "d", "e", "f"}  # the chain starts after b kept 40%
    assert typology(background() + cycle("day"))["CycleParty"] == {"x", "y", "z"}  # day-resolution dates


def test_layering_hops_that_coincidence_explains_are_no_evidence():
    """The same chain among parties who all move amounts of its size: its one payment on per
    hop matches the in-transfer as often as any payment would, so it is not flagged."""
    crowd = "".join(party(f"cr{i}") + party(f"cs{i}") + tx(f"crowd{i}", f"cr{i}", f"cs{i}", f"{45000 + 97 * i}",
                                                           f"2024-01-{1 + i % 20:02d}T09:00:00") for i in range(60))
    base = background() + fan_in() + fan_out() + structuring() + bipartite() + layering()  # material payments
    assert typology(base)["LayeringParty"] == set("abcdef")
    assert typology(base + crowd)["LayeringParty"] == set()
    assert typology(base + crowd, {"layeringChance": 1})["LayeringParty"] == set("abcdef")


def test_thresholds_are_parameters():
    data = background() + fan_in() + layering() + scatter_gather() + structuring()
    found = typology(data, {"fanMinimum": 7, "layeringMinimum": 6, "scatterGatherMinimum": 4, "structuringMinimum": 7})
    assert found["FanInHub"] == found["LayeringParty"] == found["ScatterGatherParty"] == found["StructuringAccount"] == set()


def test_day_numbers_are_exact_across_month_and_year_ends():
    import datetime

    days = ["1999-12-31", "2000-01-01", "2000-02-28", "2000-02-29", "2000-03-01", "2023-02-28",
            "2023-03-01", "2024-01-31", "2024-02-01", "2024-02-29", "2024-03-01", "2024-04-30",
            "2024-05-01", "1900-02-28", "1900-03-01"]
    data = party("u") + party("v") + "".join(tx(f"t{i}", "u", "v", "10", f"{d}T23:59:59") for i, d in enumerate(days))
    r = run(["typologies.dlog"], data)
    got = {}
    for row in r.tuples("http://oxfordsemantic.tech/transactions/tupletables#tx"):
        got[row[0].rsplit("#", 1)[1].rstrip(">")] = (float(row[6].split('"')[1]), float(row[7].split('"')[1]))
    for i, d in enumerate(days):
        expect = (datetime.date.fromisoformat(d) - datetime.date(1970, 1, 1)).days
        assert got[f"t{i}"] == (expect, expect * 86400 + 86399), d


def test_project_rules_run_together_without_conflicts():
    program = load_program(sorted((ROOT / "rules").glob("*.dlog")))
    result = materialize_frame(program, parse_document(CHAIN_DATA))
    assert isinstance(result.count(), int)
    assert pl.DataFrame(list(result.triples()), orient="row").height == result.count()

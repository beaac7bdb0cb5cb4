"""Importers of public AML benchmarks, on small files written here in their formats."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from fincrime.cli import main
from fincrime.errors import InputError
from fincrime.importers import import_amlsim, import_amlworld
from fincrime.rdf import read_ntriples
from fincrime.scoring import read_attempts
from fincrime.vocab import ENT, PROP

HEADER = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n"
ROWS = [
    "2022/09/01 00:20,010,8000EBD30,010,8000EBD30,3697.34,US Dollar,3697.34,US Dollar,Reinvestment,0",
    "2022/09/01 00:06,021174,800737690,012,80011F990,2848.96,Euro,2848.96,Euro,ACH,1",
    "2022/09/01 04:33,021174,800737690,020,80020C5B0,8630.40,Euro,8630.40,Euro,ACH,1",
    "2022/09/01 09:14,021174,800737690,0110,8001AB040,35.12,Euro,35.12,Euro,ACH,1",
    "2022/09/01 10:00,011,8000AAA10,011,8000BBB20,1000.00,Euro,1176.47,US Dollar,Wire,0",
    "2022/09/01 11:00,011,8000BBB20,011,8000AAA10,500.00,Euro,588.24,US Dollar,Wire,0",
    "2022/09/02 08:00,070,100428660,001,8000C0C00,12000.00,US Dollar,12000.00,US Dollar,Wire,1",
    "2022/09/02 18:00,001,8000C0C00,002,8000D0D00,11700.00,US Dollar,11700.00,US Dollar,Wire,1",
    "2022/09/03 07:00,002,8000D0D00,003,8000E0E00,11400.00,US Dollar,11400.00,US Dollar,Wire,1",
    "2022/09/03 12:00,005,8000F0F00,006,8000A0A00,20.00,US Dollar,20.00,US Dollar,Cash,1",
]
PATTERNS = (
    "BEGIN LAUNDERING ATTEMPT - FAN-OUT:  Max 3-degree Fan-Out\n" + "\n".join(ROWS[1:4]) + "\n"
    "END LAUNDERING ATTEMPT - FAN-OUT\n\n"
    "BEGIN LAUNDERING ATTEMPT - STACK\n" + "\n".join(ROWS[6:9]) + "\nEND LAUNDERING ATTEMPT - STACK\n"
)


def triples(folder: Path, name: str):  # type: ignore[no-untyped-def]
    return read_ntriples([folder / name])


def amounts(folder: Path) -> dict[str, Decimal]:
    t = triples(folder, "transactions-0.nt.gz")
    rows = t.filter(t["p"] == f"<{PROP}hasAmount>").rows()
    return {s.rsplit("_", 1)[1].rstrip(">"): Decimal(o.split('"')[1]) for s, _, o in rows}


@pytest.fixture()
def amlworld_files(tmp_path: Path) -> tuple[Path, Path]:
    csv_ = tmp_path / "HI-Tiny_Trans.csv"
    csv_.write_text(HEADER + "\n".join(ROWS) + "\n")
    patterns = tmp_path / "HI-Tiny_Patterns.txt"
    patterns.write_text(PATTERNS)
    return csv_, patterns


def test_amlworld_transactions_parties_and_ground_truth(amlworld_files, tmp_path):
    csv_, patterns = amlworld_files
    out = tmp_path / "out"
    report = import_amlworld(csv_, out, patterns=patterns)
    assert report["counts"]["transactions"] == 10
    assert report["counts"]["attempts"] == {"fan_out": 1, "layering": 1, "laundering": 1}
    assert {p.name for p in out.iterdir()} == {"parties-0.nt.gz", "transactions-0.nt.gz", "ground-truth.nt", "import.json"}
    t = triples(out, "transactions-0.nt.gz")
    dates = t.filter(t["p"] == f"<{PROP}hasDate>")["o"].to_list()
    assert '"2022-09-01T00:20:00"^^<http://www.w3.org/2001/XMLSchema#dateTime>' in dates
    payers = set(t.filter(t["p"] == f"<{PROP}hasOriginator>")["o"].to_list())
    assert f"<{ENT}party_021174_800737690>" in payers  # a (bank, account) pair
    parties = triples(out, "parties-0.nt.gz")
    assert parties.filter(parties["p"] == "<http://www.w3.org/2000/01/rdf-schema#label>")["o"].str.contains("Bank 021174 account 800737690").any()
    # euros become dollars at the file's own rate: 1176.47 USD paid for 1000 EUR received
    rate = report["exchange_rates_per_us_dollar"]["Euro"]
    assert rate == pytest.approx(0.85, abs=0.001)
    got = amounts(out)
    assert got["3"] == (Decimal("2848.96") / Decimal(repr(rate))).quantize(Decimal("0.01"))  # line 3: euro fan-out row
    assert got["8"] == Decimal("12000.0")
    attempts = {a.typology: a for a in read_attempts(out / "ground-truth.nt")}
    assert len(attempts["fan_out"].transactions) == 3 and len(attempts["fan_out"].parties) == 4
    assert len(attempts["layering"].transactions) == 3
    assert attempts["laundering"].transactions == {f"{ENT}transaction_HI-Tiny_Trans_11"}  # flagged, in no block
    meta = json.loads((out / "import.json").read_text())
    assert meta["source"] == "IBM AMLworld" and len(meta["inputs"]) == 2 and len(meta["inputs"][0]["sha256"]) == 64


def test_amlworld_malformed_rows_name_file_and_line(amlworld_files, tmp_path):
    csv_, _ = amlworld_files
    out = tmp_path / "out"
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + ROWS[0] + "\n" + ROWS[1].rsplit(",", 2)[0] + "\n")
    with pytest.raises(InputError, match=r"bad\.csv:3: expected 11 fields, found 9"):
        import_amlworld(bad, out)
    bad.write_text(HEADER + ROWS[0].replace("2022/09/01 00:20", "yesterday") + "\n")
    with pytest.raises(InputError, match=r"bad\.csv:2: timestamp 'yesterday'"):
        import_amlworld(bad, out)
    bad.write_text(HEADER + ROWS[0].replace("3697.34,US Dollar,R", "lots,US Dollar,R") + "\n")
    with pytest.raises(InputError, match=r"bad\.csv:2: amount 'lots' is not a number"):
        import_amlworld(bad, out)
    broken = tmp_path / "p.txt"
    broken.write_text("END LAUNDERING ATTEMPT - CYCLE\n")
    with pytest.raises(InputError, match=r"p\.txt:1: END LAUNDERING ATTEMPT without a BEGIN"):
        import_amlworld(csv_, out, patterns=broken)
    assert not out.exists() or not any(out.iterdir())  # a failed import leaves nothing behind


def test_an_earlier_import_needs_force(amlworld_files, tmp_path):
    csv_, patterns = amlworld_files
    out = tmp_path / "out"
    import_amlworld(csv_, out, patterns=patterns)
    before = (out / "ground-truth.nt").read_bytes()
    with pytest.raises(InputError, match="holds an earlier import"):
        import_amlworld(csv_, out)
    assert (out / "ground-truth.nt").read_bytes() == before
    import_amlworld(csv_, out, overwrite=True)  # without patterns: only the flagged rows remain
    assert {a.typology for a in read_attempts(out / "ground-truth.nt")} == {"laundering"}


def test_amlworld_cli(amlworld_files, tmp_path, capsys):
    csv_, patterns = amlworld_files
    out = tmp_path / "cli"
    assert main(["import", "amlworld", str(csv_), "--patterns", str(patterns), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["transactions"] == 10
    assert main(["import", "amlworld", str(tmp_path / "none.csv"), "--out", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["import", "--help"]) == 0
    assert "Example" in capsys.readouterr().out


# --- AMLSim ----------------------------------------------------------------------------------


def write(path: Path, header: str, rows: list[str]) -> None:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")


@pytest.fixture()
def amlsim_schema_format(tmp_path: Path) -> Path:
    """As AMLSim's convert_logs.py writes it: lower-case columns, ISO timestamps."""
    d = tmp_path / "sim"
    d.mkdir()
    write(d / "accounts.csv", "acct_id,dsply_nm,type,acct_stat,acct_rptng_crncy,prior_sar_count,branch_id,open_dt,close_dt,initial_deposit,tx_behavior_id,bank_id,first_name,last_name",
          [f"{i},C_{i},I,A,USD,{'true' if i < 3 else 'false'},1,2017-01-01T00:00:00Z,2019-09-27T00:00:00Z,50000,1,bank,Ann{i},Lee" for i in range(6)])
    tx = [
        "1,0,1,TRANSFER,1000.0,2017-01-05T00:00:00Z,True,7",
        "2,1,2,TRANSFER,900.0,2017-01-06T00:00:00Z,True,7",
        "3,2,0,TRANSFER,810.0,2017-01-09T00:00:00Z,True,7",
        "4,3,4,TRANSFER,55.5,2017-01-09T00:00:00Z,False,-1",
        "5,4,5,TRANSFER,300.0,2017-01-10T00:00:00Z,False,9",
    ]
    write(d / "transactions.csv", "tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp,is_sar,alert_id", tx)
    write(d / "alert_transactions.csv", "alert_id,alert_type,is_sar,tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp",
          ["7,cycle,True,1,0,1,TRANSFER,1000.0,2017-01-05T00:00:00Z", "7,cycle,True,2,1,2,TRANSFER,900.0,2017-01-06T00:00:00Z",
           "7,cycle,True,3,2,0,TRANSFER,810.0,2017-01-09T00:00:00Z", "9,fan_out,False,5,4,5,TRANSFER,300.0,2017-01-10T00:00:00Z"])
    write(d / "alert_accounts.csv", "alert_id,alert_type,acct_id,acct_name,is_sar,model_id,start,end,schedule_id,bank_id",
          ["7,cycle,0,0,True,3,0,100,1,bank", "7,cycle,1,1,True,3,0,100,1,bank", "7,cycle,2,2,True,3,0,100,1,bank",
           "9,fan_out,4,4,False,1,0,100,2,bank"])
    return d


def test_amlsim_sar_alerts_become_attempts(amlsim_schema_format, tmp_path):
    out = tmp_path / "out"
    report = import_amlsim(amlsim_schema_format, out)
    assert report["counts"] == {"parties": 6, "transactions": 5, "attempts": {"cycle": 1}}
    assert any("1 alerts are not SAR" in n for n in report["notes"])
    (cycle,) = read_attempts(out / "ground-truth.nt")
    assert cycle.transactions == {f"{ENT}transaction_{i}" for i in (1, 2, 3)}
    assert cycle.parties == {f"{ENT}party_{i}" for i in (0, 1, 2)}
    parties = triples(out, "parties-0.nt.gz")
    assert '"Ann0 Lee"' in parties["o"].to_list()
    assert '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>' not in parties["o"].to_list()  # SAR flags are truth, not input
    t = triples(out, "transactions-0.nt.gz")
    assert '"2017-01-05T00:00:00"^^<http://www.w3.org/2001/XMLSchema#dateTime>' in t["o"].to_list()


def test_amlsim_published_format_with_steps(tmp_path):
    d = tmp_path / "kaggle"
    d.mkdir()
    write(d / "transactions.csv", "TX_ID,SENDER_ACCOUNT_ID,RECEIVER_ACCOUNT_ID,TX_TYPE,TX_AMOUNT,TIMESTAMP,IS_FRAUD,ALERT_ID",
          ["1,6456,9069,TRANSFER,465.05,0,False,-1", "2,4282,5009,TRANSFER,570258.25,101,True,1",
           "3,4282,5010,TRANSFER,570258.25,101,True,1", "4,4282,5011,TRANSFER,1.5,400,True,1"])
    write(d / "alerts.csv", "ALERT_ID,ALERT_TYPE,IS_FRAUD,TX_ID,SENDER_ACCOUNT_ID,RECEIVER_ACCOUNT_ID,TX_TYPE,TX_AMOUNT,TIMESTAMP",
          ["1,fan_out,True,2,4282,5009,TRANSFER,570258.25,101", "1,fan_out,True,3,4282,5010,TRANSFER,570258.25,101"])
    out = tmp_path / "out"
    assert main(["import", "amlsim", str(d), "--out", str(out), "--base-date", "2020-01-01", "--json"]) == 0
    (fan,) = read_attempts(out / "ground-truth.nt")
    assert fan.typology == "fan_out" and len(fan.transactions) == 3  # tx 4 carries the alert id and SAR flag
    t = triples(out, "transactions-0.nt.gz")
    assert '"2020-04-11T00:00:00"^^<http://www.w3.org/2001/XMLSchema#dateTime>' in t["o"].to_list()  # step 101


def test_amlsim_errors(tmp_path, amlsim_schema_format):
    with pytest.raises(InputError, match=r"no transactions\.csv or tx\.csv"):
        import_amlsim(tmp_path, tmp_path / "o")
    tx = amlsim_schema_format / "transactions.csv"
    tx.write_text(tx.read_text() + "6,5,0,TRANSFER,12,someday,False,-1\n")
    with pytest.raises(InputError, match=r"transactions\.csv:7: timestamp 'someday'"):
        import_amlsim(amlsim_schema_format, tmp_path / "o")
    tx.write_text("tran_id,orig_acct,bene_acct,base_amt,tran_timestamp,is_sar\n1,0,1,5,2017-01-01,maybe\n")
    with pytest.raises(InputError, match=r"transactions\.csv:2: expected a true/false flag"):
        import_amlsim(amlsim_schema_format, tmp_path / "o")


def test_imported_amlsim_cycle_is_found_by_the_project_rules(amlsim_schema_format, tmp_path):
    from fincrime.engine import materialize
    from fincrime.rules import load_program
    from fincrime.scoring import score_outputs

    out = tmp_path / "out"
    import_amlsim(amlsim_schema_format, out)
    program = load_program([Path(__file__).resolve().parents[1] / "rules" / "typologies.dlog"])
    data = [out / "parties-0.nt.gz", out / "transactions-0.nt.gz"]
    result = materialize(program, [str(p) for p in data])
    derived = tmp_path / "derived.nt"
    result.write_ntriples(derived)
    card = score_outputs(derived, data, [out / "ground-truth.nt"])
    cyc = card.row("cycle")
    assert (cyc.found, cyc.attempts, cyc.precision) == (1, 1, 1.0)  # day-stepped dates, margins of 10%
    with gzip.open(out / "transactions-0.nt.gz") as fh:
        assert fh.read().count(b"\n") == 25

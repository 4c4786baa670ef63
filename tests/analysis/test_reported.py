"""analysis.reported: the paper's numbers in its units to fractions and counts, rows joined to the arms' records,
deltas, the printed table, reported.csv and reported.png."""
import csv

import pytest

from analysis import TrialRecord
from analysis.reported import COLUMNS, reported_rows, reported_table, reported_value, write_reported


def test_reported_values_convert_the_papers_units():
    assert reported_value({"top1_pct": 77.5}, "top1") == pytest.approx(0.775)
    assert reported_value({"error_pct": 5.57}, "top1") == pytest.approx(0.9443)
    assert reported_value({"params_m": 30.9}, "params") == pytest.approx(30.9e6)
    assert reported_value({"macs_g": 4.133}, "macs") == pytest.approx(4.133e9)
    assert reported_value({"macs_m": 6.17}, "macs") == pytest.approx(6.17e6)
    assert reported_value({}, "top1") is None and reported_value({}, "macs") is None


def ref(name, status, acc, counts=True):
    return TrialRecord(trial_id=f"ref-{name}", number=-1, arch={}, arch_hash=name, status=status, reason="",
                       metrics={"val_top1": acc, "params": 1e5, "macs": 2e6}, is_reference=True, reference_name=name)


ARMS = [{"arm": "a", "reported": {"top1_pct": 80.0, "params_m": 2.0, "macs_g": 1.0, "dataset": "imagenet",
                                  "table": "T1"}, "paper_params": 2.2e6, "paper_macs": 0.9e9},
        {"arm": "b", "reported": {"error_pct": 25.0}, "paper_params": 1e6, "paper_macs": None},
        {"arm": "c", "reported": {"top1_pct": 70.0}, "paper_params": None, "paper_macs": None}]


def test_rows_join_arms_to_their_records_with_deltas():
    rows = reported_rows([ref("a", "finished", 0.9), ref("b", "diverged", None)], ARMS, trained_on="digits")
    assert [r["arm"] for r in rows] == ["a", "b", "c"] and all(list(r) == list(COLUMNS) for r in rows)
    a, b, c = rows
    assert a["measured_top1"] == 0.9 and a["delta_top1"] == pytest.approx(0.1)
    assert a["delta_params_pct"] == pytest.approx(10.0) and a["delta_macs_pct"] == pytest.approx(-10.0)
    assert a["trained_on"] == "digits" and a["reported_on"] == "imagenet" and a["trained_macs"] == 2e6
    assert b["status"] == "diverged" and b["measured_top1"] is None and b["reported_top1"] == pytest.approx(0.75)
    assert b["delta_top1"] is None and b["delta_macs_pct"] is None
    assert c["status"] == "pending"


def test_table_csv_and_plot(tmp_path):
    rows = reported_rows([ref("a", "finished", 0.9)], ARMS, trained_on="digits")
    text = reported_table(rows)
    line_a = next(l for l in text.splitlines() if l.startswith("a "))
    assert "90.00" in line_a and "80.00" in line_a and "+10.00" in line_a and "+10.0" in line_a and "-10.0" in line_a
    assert "measured on digits vs reported on imagenet (different data" in text
    csv_path, png = write_reported(rows, tmp_path / "report", title="t")
    with open(csv_path) as f:
        got = list(csv.DictReader(f))
    assert [g["arm"] for g in got] == ["a", "b", "c"] and float(got[0]["reported_top1"]) == pytest.approx(0.8)
    assert got[2]["measured_top1"] == ""
    assert png.stat().st_size > 10_000

"""front.csv, hypervolume.csv, the plot and the summary table on a small fabricated study."""
import csv

import pytest

from analysis.report import (pareto_records, plot_front, ranked_records, summary_table, write_front_csv,
                             write_report)
from analysis.trials import TrialRecord
from search_space import ArchConfig

OBJ = [("val_top1", "max"), ("macs", "min")]


@pytest.fixture(scope="module")
def records():
    base = {"backbone": {"type": "resnet_cifar", "depth": 8}, "num_classes": 10, "input_size": [1, 16, 16]}
    plain = ArchConfig.from_dict(base, check_fits=False)
    se = ArchConfig.from_dict({**base, "attention": {"type": "se", "reduction": 4}}, check_fits=False)
    deep = ArchConfig.from_dict({**base, "backbone": {"type": "resnet_cifar", "depth": 14}}, check_fits=False)

    def rec(n, arch, status, acc=None, macs=None, ref=None):
        metrics = {k: v for k, v in (("val_top1", acc), ("macs", macs), ("params", 2e5), ("latency_ms", 1.5))
                   if v is not None}
        return TrialRecord(f"id{n}", n, arch.to_dict(), arch.hash, status, metrics=metrics,
                           is_reference=ref is not None, reference_name=ref)

    # by hand, front over (acc max, macs min): 0 (.60, 1M), 1 (.70, 3M), 4 (.90, 80M); 2 is beaten by 1;
    # 3 is pruned, 5 diverged (NaN accuracy), 6 failed without metrics: none of them can be on the front
    return [rec(0, plain, "finished", 0.60, 1e6), rec(1, se, "finished", 0.70, 3e6, ref="se-resnet8"),
            rec(2, deep, "finished", 0.65, 5e6), rec(3, se, "stopped", 0.95, 2e6),
            rec(4, deep, "finished", 0.90, 80e6), rec(5, plain, "diverged", float("nan"), 1e6),
            rec(6, plain, "failed")]


def test_pareto_records_best_first(records):
    assert [r.number for r in pareto_records(records, OBJ)] == [4, 1, 0]
    assert [(rank, r.number) for rank, r in ranked_records(records, OBJ)] == [(0, 4), (0, 1), (0, 0), (1, 2)]


def test_front_csv(records, tmp_path):
    rows = list(csv.DictReader(open(write_front_csv(records, OBJ, tmp_path / "front.csv"))))
    assert [r["trial"] for r in rows] == ["4", "1", "0"]
    assert rows[1]["arch_name"] == "resnet_cifar8+se[reduction=4]@pre_add~1x16x16" and rows[1]["is_reference"] == "True"
    assert rows[1]["reference_name"] == "se-resnet8" and float(rows[1]["macs"]) == 3e6
    assert set(rows[0]) >= {"arch_hash", "val_top1", "macs", "params", "status"}


def test_write_report_files(records, tmp_path):
    paths = write_report(records, OBJ, tmp_path / "out", study_name="unit")
    assert [p.name for p in paths] == ["front.csv", "front.png", "hypervolume.csv"]
    png = paths[1].read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    hv_rows = list(csv.reader(open(paths[2])))
    # reference (acc 0, MACs 1.1 x 80M = 88M): after trial 4 the front is {0, 1, 4}:
    # .6 x 87M + (.7 - .6) x 85M + (.9 - .7) x 8M = 52.2M + 8.5M + 1.6M
    assert hv_rows[0][-1] == "hypervolume[reference val_top1=0;macs=88000000]"
    assert [r[2] for r in hv_rows[1:]] == ["1", "2", "2", "2", "3", "3", "3"]
    assert float(hv_rows[-1][-1]) == pytest.approx(62.3e6)


def test_plot_without_plottable_trials(tmp_path):
    path = plot_front([], OBJ, tmp_path / "empty.png", study_name="empty")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_summary_table(records):
    text = summary_table(records, OBJ, top=3)
    lines = text.splitlines()
    assert lines[0].split() == ["rank", "trial", "architecture", "top-1", "%", "MACs", "M", "params", "M",
                                "lat", "ms", "status"]
    assert lines[2].split() == ["1", "4", "resnet_cifar14~1x16x16", "90.00", "80.00", "0.200", "1.50", "finished"]
    assert "resnet_cifar8+se[reduction=4]@pre_add~1x16x16 [se-resnet8]" in lines[3]
    assert len(lines) == 2 + 3 + 2
    assert lines[-2].startswith("7 trials (4 finished, 1 stopped, 1 diverged, 1 failed)")
    assert "hypervolume 6.23e+07 at reference (val_top1=0, macs=8.8e+07)" in lines[-1]

"""The table recorder (benchmarks/record_search_pool.py): per-seed records, resume by (hash, seed), torn lines,
the SNR it prints, and the AttnBench-digits space's size."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


import record_search_pool as record  # noqa: E402  (benchmarks/ on sys.path: conftest.py)

STUDY = """
name: tiny-table
space:
  fixed: {backbone.type: resnet_cifar, backbone.depth: 8, backbone.width: 0.25, stage_mask: "001"}
  dimensions:
    attention.type: [none, se, eca]
data: {name: digits, image_size: 8, val_fraction: 0.2, seed: 0}
fidelity: {epochs: 1}
training: {batch_size: 96, optimizer: adamw, lr: 0.005, schedule: cosine, augment: false}
"""


def _lines(path):
    return [json.loads(ln) for ln in path.read_text().splitlines()]


def test_attnbench_space_has_the_issue_dimensions_and_over_2000_points():
    from search_space.space import SearchSpace
    from studies.config import StudyConfig

    cfg = StudyConfig.from_yaml(record.TABLES["attnbench_digits"].study)
    space = SearchSpace.from_dict(record.pool_space_dict(cfg, 10, (1, 8, 8), {}))
    dims = {d.path: d for d in space.dimensions}
    assert len(dims["attention.type"].values()) >= 8
    assert {"insertion_point", "stage_mask", "attention.reduction", "activation", "backbone.depth",
            "backbone.width"} <= set(dims)
    assert not any(p.startswith("connection") for p in dims)
    assert space.size() >= 2000
    assert record.TABLES["attnbench_digits"].seeds == (0, 1, 2)


def test_snr_is_std_of_arch_means_over_pooled_seed_std():
    accs = {"a": [0.9, 0.92, 0.91], "b": [0.7, 0.74, 0.72], "c": [0.8, 0.8, 0.83]}
    recs = [{"hash": h, "seed": s, "val_top1": [0.1, v]} for h, vs in accs.items() for s, v in enumerate(vs)]
    recs.append({"hash": "d", "seed": 0, "val_top1": [0.5]})          # one seed: left out
    means = [np.mean(v) for v in accs.values()]
    pooled = np.sqrt(np.mean([np.var(v, ddof=1) for v in accs.values()]))
    got = record.snr(recs)
    assert got["archs"] == 3
    assert got["snr"] == pytest.approx(np.std(means, ddof=1) / pooled)


def test_read_pool_gives_v2_records_the_header_seed_and_drops_a_torn_line(tmp_path):
    path = tmp_path / "old.jsonl"
    head = {"format": "attnas-search-pool/2", "seed": 7}
    path.write_text(json.dumps(head) + "\n" + json.dumps({"hash": "x", "val_top1": [0.5]}) + "\n{\"hash\": \"y\"")
    header, recs = record.read_pool(path)
    assert header["seed"] == 7 and [r["seed"] for r in recs] == [7]
    record.drop_torn_line(path)
    assert path.read_text().endswith("}\n") and len(path.read_text().splitlines()) == 2


def test_records_every_arch_and_seed_resumes_after_a_kill_and_refuses_another_recipe(tmp_path):
    study, out = tmp_path / "study.yaml", tmp_path / "t.jsonl"
    study.write_text(STUDY)
    args = ["--table", "attnbench_digits", "--study", str(study), "--out", str(out), "--seeds", "3", "5"]
    assert record.main(args + ["--pool-size", "2", "--workers", "2"]) == 0
    lines = _lines(out)
    header, recs = lines[0], lines[1:]
    assert header["seeds"] == [3, 5] and header["space_size"] == 3 and header["format"] == record.FORMAT
    assert sorted((r["hash"], r["seed"]) for r in recs) == sorted({(r["hash"], s) for r in recs for s in (3, 5)})
    assert len({r["hash"] for r in recs}) == 2
    for r in recs:
        assert len(r["val_top1"]) == len(r["epoch_cpu_s"]) == 1 and r["trial_cpu_s"] >= r["epoch_cpu_s"][0] > 0
        assert r["macs"] > 0 and r["params"] > 0 and r["status"] == "finished"
    # a kill mid-write: the last record lost and half of it written
    out.write_text("\n".join(json.dumps(x) for x in lines[:-1]) + "\n" + json.dumps(lines[-1])[:40])
    assert record.main(args + ["--workers", "1"]) == 0
    header2, recs2 = record.read_pool(out)
    pairs = [(r["hash"], r["seed"]) for r in recs2]
    assert len(pairs) == len(set(pairs)) == 6 and all(r["seed"] in (3, 5) for r in recs2)
    assert out.read_text().count("\n") == 7
    # the lost trial first, then the third architecture's seeds one after the other
    assert pairs[3] == (lines[-1]["hash"], lines[-1]["seed"])
    assert [s for _, s in pairs[4:]] == [3, 5] and pairs[4][0] == pairs[5][0] not in {h for h, _ in pairs[:4]}
    # the same file with another recipe is refused
    study.write_text(STUDY.replace("lr: 0.005", "lr: 0.01"))
    with pytest.raises(SystemExit, match="training"):
        record.main(args)

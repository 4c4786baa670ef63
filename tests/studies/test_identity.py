"""What a record is: an architecture at a fidelity. Arms and warm starts equal by hash are answered from the
first (unless a seed replicate); records at another fidelity answer nothing and stay off the front."""
import io

import pytest

from analysis import TrialRecord, append_trial, read_trials
from analysis.report import plot_front
from analysis.status import answering, suggested
from studies.commands.status import study_status
from studies.config import StudyConfig
from studies.run import run_study
from studies.study import Study
from studies.tracking import MlflowTracker

TINY = {"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.25}, "num_classes": 4, "input_size": [1, 8, 8]}


def _record(key, number, arch_hash, epochs, acc, macs):
    return TrialRecord(trial_id=key, number=number, arch=dict(TINY), arch_hash=arch_hash, status="finished",
                       metrics={"val_top1": acc, "macs": macs, "epochs": epochs}, told=[acc, macs],
                       fidelity={"epochs": epochs, "train_subset": None, "data": "synthetic", "image_size": 8})


def test_records_at_another_fidelity_answer_nothing_and_stay_off_the_front(tmp_path, tiny_study):
    data = tiny_study("fid", tmp_path / "runs", fidelity={"epochs": 2},
                      hypervolume_reference={"val_top1": 0.0, "macs": 1000.0})
    study = Study.create(StudyConfig.from_dict(data))
    old = _record("t0000", 0, "h-old", 1, 0.9, 100.0)          # better on both objectives, but at 1 epoch
    new = _record("t0001", 1, "h-new", 2, 0.5, 200.0)
    for r in (old, new):
        append_trial(study.trials_path, r)
    study = Study.open(study.dir)
    fidelity = study.cfg.fidelity()
    assert set(answering(study.records, fidelity)) == {"h-new"} and "h-old" not in suggested(study.records, fidelity)
    assert [r.trial_id for r in study.current()] == ["t0001"]
    assert study.report.hypervolume() == pytest.approx(0.5 * 800.0)
    note = study.fidelity_note()
    assert note.startswith("note: this study now trains at epochs 2, train_subset None, data synthetic, image_size 8;")
    assert "1 trained record(s) at epochs 1 " in note and "marked on the plot" in note
    # budget.trials counts the trials at the study's current fidelity, the ones its front is made of
    trials = study.cfg.trials
    assert study.counted() == 1 and study.remaining() == trials - 1
    assert note.endswith(f"do not count towards budget.trials (1 of {trials} spent at this fidelity)")
    st = study_status(study.dir)
    assert st["budget"]["spent"] == 1 and [row["trial_id"] for row in st["front"]] == ["t0001"]
    assert "t0000" not in study.report.summary().split("trained on")[0] and note in study.report.summary()

    study.tracker = MlflowTracker(study.tracking_uri, study.dir)
    study.tracker.start_study("fid", study.cfg.to_dict(), {})
    study.report._publish(list(study.records))
    front = (study.dir / "report" / "front.csv").read_text()
    assert "t0001" in front and "t0000" not in front
    assert [p.name for p in (study.dir / "export").glob("*.yaml")] and \
        all("t0000" not in p.name for p in (study.dir / "export").glob("*"))
    objectives = list(study.cfg.objectives)
    a = plot_front([new], objectives, tmp_path / "a.png").read_bytes()
    b = plot_front([new], objectives, tmp_path / "b.png", others=[old]).read_bytes()
    assert a != b                                                 # the other fidelity's point is drawn


def test_a_resumed_study_at_the_same_fidelity_says_nothing(tmp_path, tiny_study):
    study = Study.create(StudyConfig.from_dict(tiny_study("same", tmp_path / "runs", fidelity={"epochs": 2})))
    append_trial(study.trials_path, _record("t0000", 0, "h", 2, 0.5, 200.0))
    assert Study.open(study.dir).fidelity_note() is None


@pytest.mark.slow
def test_arms_equal_by_hash_are_answered_from_the_first_unless_a_seed_replicate(ray_session, tmp_path, tiny_study):
    data = tiny_study("arms", tmp_path / "runs", fidelity={"epochs": 1}, scheduler={"type": "none"}, concurrency=1,
                      arms=[{"name": "base", "arch": TINY}, {"name": "again", "arch": TINY},
                            {"name": "seed1", "arch": TINY, "replicate": 1}])
    del data["space"]
    out = io.StringIO()
    study = run_study(Study.create(StudyConfig.from_dict(data)), out=out, progress_every_s=60)
    by_id = {r.trial_id: r for r in read_trials(study.trials_path)}
    assert by_id["ref-base"].status == "finished" and by_id["ref-seed1"].status == "finished"
    again = by_id["ref-again"]
    assert again.status == "duplicate" and again.twin == "ref-base" and again.is_reference
    assert again.metrics == by_id["ref-base"].metrics and again.reference_name == "again"
    assert by_id["ref-seed1"].provenance and by_id["ref-seed1"].arch_hash == by_id["ref-base"].arch_hash
    rows = {row["arm"]: row for row in study.report.reported_rows()}
    assert rows["again"]["status"] == "same as base"
    assert rows["again"]["measured_top1"] == rows["base"]["measured_top1"]

    resumed = run_study(Study.open(study.dir), out=io.StringIO(), progress_every_s=60)    # nothing left to train
    assert len(read_trials(resumed.trials_path)) == 3

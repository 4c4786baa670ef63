"""On every way out of a study the MLflow queue is flushed, and calls that failed on its background thread are
reported at the end and recorded on their trial (Optuna attribute and mlflow_errors.json)."""
import io
import json
import time
from types import SimpleNamespace

from studies.run import _close
from studies.tracking import Background


def test_failed_mlflow_calls_are_reported_and_recorded_on_their_trial(tmp_path):
    background = Background(out=io.StringIO())
    background.submit("t0001", lambda: 1 / 0)
    background.submit("t0001", lambda: None)
    seen = {}
    study = SimpleNamespace(
        tracker=SimpleNamespace(end_study=lambda status: seen.update(parent=status)), background=background,
        dir=tmp_path, records=[SimpleNamespace(trial_id="t0001", number=1, is_reference=False)])
    lifecycle = SimpleNamespace(searcher=object(), set_attrs=lambda number, **attrs: seen.update({number: attrs}))
    out = io.StringIO()
    _close(study, lifecycle, "KILLED", out)
    assert seen["parent"] == "KILLED"
    assert seen[1]["mlflow_errors"].startswith("ZeroDivisionError")
    assert json.loads((tmp_path / "mlflow_errors.json").read_text()) == {"t0001": ["ZeroDivisionError: division by zero"]}
    assert out.getvalue().startswith("attnas: 1 MLflow call(s) failed on the background thread, for t0001")


def test_flush_waits_at_most_its_timeout():
    background = Background(out=io.StringIO())
    background.submit("slow", time.sleep, 0.5)
    assert background.flush(0.05) is False
    assert background.flush(5) is True

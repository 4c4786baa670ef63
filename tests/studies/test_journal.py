"""StudyJournalBackend: Optuna reads what it writes, as Optuna's own file backend would; a sync flushes."""
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from studies.journal import StudyJournalBackend


def test_a_study_written_through_the_backend_reads_back_with_optunas_own_backend(tmp_path):
    path = tmp_path / "optuna.journal"
    backend = StudyJournalBackend(str(path), sync_every_s=3600.0)
    study = optuna.create_study(storage=JournalStorage(backend), study_name="s", directions=["maximize", "minimize"])
    for i in range(7):
        t = study.ask()
        t.suggest_categorical("depth", [8, 20, 32])
        t.set_user_attr("arch_hash", f"h{i}")
        study.tell(t, [0.1 * i, 3.0 + i] if i != 5 else None,
                   state=optuna.trial.TrialState.COMPLETE if i != 5 else optuna.trial.TrialState.FAIL)
    assert backend.unsynced                         # within sync_every_s: written, not yet fsynced
    backend.sync()
    assert not backend.unsynced
    other = optuna.load_study(study_name="s", storage=JournalStorage(JournalFileBackend(str(path))))
    trials = other.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 5 + ["FAIL", "COMPLETE"]
    assert trials[3].values == [0.30000000000000004, 6.0] and trials[6].user_attrs["arch_hash"] == "h6"
    assert trials[2].params["depth"] in (8, 20, 32)
    backend.close()


def test_appends_go_on_after_a_reopen(tmp_path):
    path = str(tmp_path / "optuna.journal")
    first = StudyJournalBackend(path)
    study = optuna.create_study(storage=JournalStorage(first), study_name="s")
    study.tell(study.ask(), 1.0)
    first.close()
    again = optuna.load_study(study_name="s", storage=JournalStorage(StudyJournalBackend(path, sync_every_s=0.0)))
    again.tell(again.ask(), 2.0)
    assert [t.value for t in again.get_trials()] == [1.0, 2.0]

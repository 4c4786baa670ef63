"""Optuna's importance in the effects report is fitted on one trial per architecture, at most
IMPORTANCE_TRIALS of them (a 1,000-trial study's final publish spent over 15 minutes in fANOVA over every told
trial, duplicates included; the forest is now Optuna's mean decrease in impurity), and still ranks the dimension that drives accuracy first."""
import optuna
from optuna.distributions import CategoricalDistribution

from studies.effects import IMPORTANCE_TRIALS, importance_trials, optuna_importance

DISTS = {"attention.type": CategoricalDistribution(["none", "se", "cbam", "eca"]),
         "activation": CategoricalDistribution(["relu", "silu"]),
         "stage_mask": CategoricalDistribution(["111", "011", "001"])}
GAIN = {"none": 0.0, "se": 0.10, "cbam": 0.20, "eca": 0.30}


def trial(number, params, dup_of=None):
    value = 0.5 + GAIN[params["attention.type"]] + 0.001 * (number % 7)
    key = f"h{dup_of if dup_of is not None else number}"
    return optuna.trial.create_trial(params=params, distributions=DISTS, values=[value, 1e6],
                                     user_attrs={"arch_hash": key})


def big_study(n=1200):
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name="s", storage=storage, directions=["maximize", "minimize"])
    names = [[a, b, c] for a in DISTS["attention.type"].choices for b in DISTS["activation"].choices
             for c in DISTS["stage_mask"].choices]
    trials = []
    for i in range(n):
        a, b, c = names[i % len(names)]
        dup = i - 1 if i % 3 == 2 else None          # every third trial repeats the one before it
        trials.append(trial(i, {"attention.type": a, "activation": b, "stage_mask": c}, dup))
    study.add_trials(trials)
    return storage, study


def test_one_trial_per_architecture_and_a_seeded_cap():
    _, study = big_study(n=3 * IMPORTANCE_TRIALS)
    complete = study.get_trials(deepcopy=False)
    fitted = importance_trials(complete, limit=IMPORTANCE_TRIALS, seed=0)
    hashes = [t.user_attrs["arch_hash"] for t in fitted]
    assert len(fitted) == IMPORTANCE_TRIALS < 2 * IMPORTANCE_TRIALS and len(set(hashes)) == len(hashes)
    assert [t.number for t in fitted] == sorted(t.number for t in fitted)
    assert fitted == importance_trials(complete, limit=IMPORTANCE_TRIALS, seed=0)        # seeded
    assert fitted != importance_trials(complete, limit=IMPORTANCE_TRIALS, seed=1)
    few = importance_trials(complete[:30])                         # under the cap: every distinct one
    assert len(few) == 20


def test_the_driving_dimension_ranks_first_and_the_journal_is_untouched():
    storage, study = big_study()
    before = len(study.get_trials(deepcopy=False))
    importance = optuna_importance(storage, "s", 0, seed=0)
    assert max(importance, key=importance.get) == "attention.type"
    assert importance["attention.type"] > 0.9
    assert len(optuna.load_study(study_name="s", storage=storage).get_trials(deepcopy=False)) == before

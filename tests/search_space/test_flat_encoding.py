"""The flat encoding (NSGA-II, QMC): a static vector with one categorical per condition class, whose decoding
gives every legal (attention type, insertion point, stage mask) its define-by-run share (type uniform, then a
legal point uniform, then a legal mask uniform) and stores the values it builds.

The share is restated here from the YAML and the registries' metadata (not from the walk), then checked three
ways: exactly, by enumerating the relevant parameters of the vector; on 100,000+ uniform vectors from a
scrambled Sobol sequence (what QMCSampler draws), every combination within +-10 % of its share; and on 100,000
iid uniform vectors (a numpy RNG driving the flat chooser directly, as a RandomSampler would), a chi-square test
plus a bound of +-25 % (at cifar-attention's 1/238 shares +-10 % is only ~2 standard deviations of iid noise).
"""
from __future__ import annotations

import itertools
from collections import Counter
from fractions import Fraction

import numpy as np
import optuna
import pytest
from scipy import stats
from scipy.stats import qmc

from search_space import SearchSpace
from search_space.arch_config import allowed_points
from search_space.flat import FlatChooser, flat_params
from search_space.registry import BACKBONES
from search_space.space import shipped_spaces

optuna.logging.set_verbosity(optuna.logging.WARNING)
N = 100_000


def define_by_run_shares(space: SearchSpace) -> dict:
    """(type, point, mask) -> probability under define-by-run sampling, from the YAML and the metadata."""
    dims = {d.path: d for d in space.dimensions}
    bb = BACKBONES.get(space.fixed["backbone.type"])
    n_stages = bb.num_stages
    types = dims["attention.type"].values()
    shares = {}
    for t in types:
        if t == "none":
            shares[("none", None, None)] = Fraction(1, len(types))
            continue
        points = [p for p in dims["insertion_point"].values() if p in allowed_points(t, bb.insertion_points)]
        masks = [m for m in dims["stage_mask"].values() if len(m) == n_stages]
        for p, m in itertools.product(points, masks):
            shares[(t, p, m)] = Fraction(1, len(types) * len(points) * len(masks))
    return shares


def decision(a: dict) -> tuple:
    t = a["attention.type"]
    return ("none", None, None) if t == "none" else (t, a["insertion_point"], a["stage_mask"])


class Row:
    """A flat vector given as one row of uniform numbers in [0, 1), one column per parameter (as QMCSampler
    and RandomSampler map a uniform number to a categorical: index floor(u * n))."""

    def __init__(self, columns: dict, u):
        self.columns, self.u = columns, u

    def pick(self, name, dim, values):
        values = dim.values() if values is None else values
        return values[min(int(self.u[self.columns[name]] * len(values)), len(values) - 1)]


def counts(space: SearchSpace, uniforms: np.ndarray) -> Counter:
    columns = {name: i for i, name in enumerate(flat_params(space).params)}
    return Counter(decision(space._assign(Row(columns, u), until="stage_mask")) for u in uniforms)


SPACES = ["cifar-attention", "quick"]


@pytest.mark.parametrize("name", SPACES)
def test_flat_decoding_gives_exactly_the_define_by_run_shares(name):
    space = SearchSpace.load(name)
    flat = flat_params(space).params
    relevant = [n for n, (d, _) in flat.items() if d.path in ("attention.type", "insertion_point", "stage_mask")]
    rng = np.random.default_rng(0)
    for _ in range(3):       # whatever the rest of the vector holds
        rest = flat_params(space).draw(rng)
        got: Counter = Counter()
        for combo in itertools.product(*(flat[n][1] for n in relevant)):
            a = space._assign(FlatChooser({**rest, **dict(zip(relevant, combo))}), until="stage_mask")
            got[decision(a)] += Fraction(1, int(np.prod([len(flat[n][1]) for n in relevant])))
        assert dict(got) == define_by_run_shares(space)


VECTORS = {"cifar-attention": N, "quick": 20_000}


@pytest.mark.parametrize("name", SPACES)
def test_quasi_random_flat_vectors_match_every_share_within_ten_percent(name):
    space = SearchSpace.load(name)
    u = qmc.Sobol(len(flat_params(space).params), scramble=True, seed=0).random_base2(17)[:VECTORS[name]]
    got, shares = counts(space, u), define_by_run_shares(space)
    assert set(got) == set(shares)
    for combo, share in shares.items():
        expected = float(share) * len(u)
        assert abs(got[combo] - expected) <= 0.1 * expected, (combo, got[combo], expected)


@pytest.mark.parametrize("name", SPACES)
def test_random_flat_vectors_match_the_shares(name):
    space = SearchSpace.load(name)
    u = np.random.default_rng(0).random((VECTORS[name], len(flat_params(space).params)))
    got, shares = counts(space, u), define_by_run_shares(space)
    assert set(got) == set(shares)
    combos = sorted(shares, key=str)
    expected = np.array([float(shares[c]) * len(u) for c in combos])
    observed = np.array([got[c] for c in combos])
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    assert np.all(np.abs(observed - expected) <= 0.25 * expected)
    # the old encoding repaired an illegal point to the first legal one: pre_add got ~2/3 of the mass
    points = Counter(c[1] for c in got.elements() if c[1] is not None)
    assert abs(points["pre_add"] / points["post_add"] - 1) < 0.05


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_the_vector_is_static_and_stores_what_is_built():
    space = SearchSpace.load("cifar-attention")
    names = list(space.flat_distributions())
    for sampler in (optuna.samplers.RandomSampler(seed=0), optuna.samplers.QMCSampler(seed=0, warn_independent_sampling=False),
                    optuna.samplers.NSGAIISampler(seed=0, population_size=8)):
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        for i in range(40 if isinstance(sampler, optuna.samplers.RandomSampler) else 16):
            trial = study.ask()
            arch = space.suggest(trial, flat=True)
            assert list(trial.params) == names                    # every parameter on every trial
            assert trial.distributions == space.flat_distributions()
            main = next(n for n in names if n.startswith("attention.type"))
            t = trial.params[main]
            if t != "none" and not arch.extra_attention:        # not relabelled (main/extra, see arch_config)
                assert arch.attention.type == t
                point = next(n for n in names if n.startswith("insertion_point|") and
                             arch.insertion_point in n.split("|")[1].split(","))
                assert trial.params[point] == arch.insertion_point
                assert "".join("1" if m else "0" for m in arch.stage_mask) == trial.params["stage_mask"]
            study.tell(trial, [i % 3, i % 5])


def test_every_shipped_space_has_a_flat_vector():
    for name in shipped_spaces():
        space = SearchSpace.load(name)
        assert space.flat_distributions()

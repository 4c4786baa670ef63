"""Every point a shipped space hands out can be built: thousands of samples (define-by-run and flat) pass the
config-only fit checks, and a smaller sample really builds and runs a forward pass; points that cannot build
are excluded by the space, never sampled, and an impossible space is one line at load."""
from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch

from search_space import AttnasError, SearchSpace, build_model, check_fits
from search_space.flat import FlatChooser, flat_params
from search_space.space import shipped_spaces

optuna.logging.set_verbosity(optuna.logging.WARNING)
SAMPLES = 2000


@pytest.mark.parametrize("name", shipped_spaces())
def test_thousands_of_samples_of_every_shipped_space_fit(name):
    space = SearchSpace.load(name)
    rng = np.random.default_rng(1)
    flat = flat_params(space)
    for i in range(SAMPLES):
        arch = space.sample(rng) if i % 2 else space.build(space._assign(FlatChooser(flat.draw(rng))))
        check_fits(arch)          # (build() already checked; explicit so a regression cannot hide)


@pytest.mark.parametrize("name", shipped_spaces())
def test_samples_of_every_shipped_space_build_and_run(name):
    space = SearchSpace.load(name)
    for seed in range(4):
        arch = space.sample(seed)
        model = build_model(arch).eval()
        with torch.no_grad():
            out = model(torch.zeros(1, *arch.input_size))
        assert out.shape == (1, arch.num_classes)


SMALL = {"fixed": {"backbone.type": "vgg", "backbone.width": 0.125, "num_classes": 10},
         "dimensions": {"backbone.depth": [11, 19], "input_size": [[3, 16, 16], [3, 32, 32], [3, 48, 48]],
                        "attention.type": ["none", "se"], "gating.type": ["none", "fa"]}}


def test_unbuildable_points_are_excluded_not_sampled():
    # VGG's five max-pools need 32x32; FA cannot gate VGG at 48x48 (its maps do not halve exactly)
    space = SearchSpace.from_dict(SMALL)
    seen = {(a.input_size, a.gating.type) for a in (space.sample(s) for s in range(200))}
    assert (3, 16, 16) not in {i for i, _ in seen}
    assert ((3, 48, 48), "fa") not in seen and ((3, 48, 48), "none") in seen and ((3, 32, 32), "fa") in seen
    assert space.size() == len({a.hash for a in space.configs()}) == 2 * (2 * 2 + 2 * 1)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(60):
        trial = study.ask()
        arch = space.suggest(trial)
        assert trial.params.get("input_size|3+32+32,3+48+48", "3+32+32") in ("3+32+32", "3+48+48")
        assert arch.input_size != (3, 16, 16)
        study.tell(trial, 0.0)


def test_a_space_with_no_buildable_point_is_one_line():
    with pytest.raises(AttnasError) as err:
        SearchSpace.from_dict({"fixed": {"backbone.type": "vgg", "input_size": [3, 16, 16]},
                               "dimensions": {"attention.type": ["none", "se"]}})
    assert "input_size" in str(err.value) and "\n" not in str(err.value)

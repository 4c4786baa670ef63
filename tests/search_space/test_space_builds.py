"""Every point a shipped space hands out can be built: thousands of samples (define-by-run and flat) pass the
config-only fit checks, and 50 samples of each space train at real shapes (forward and backward in train mode
and forward in eval mode, at batch sizes that equal no channel count or spatial size of the model, on a
non-square input); points that cannot build are excluded by the space, never sampled, and an impossible space
is one line at load."""
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


REAL_SAMPLES = 50
NON_SQUARE = [3, 24, 16]
"""The default run's input: every shipped space's backbone (resnet_cifar) takes any size its stages halve, and a
non-square map lets no height/width mix-up pass; smaller than the spaces' 32x32 to keep the run fast."""


def train_samples_at_real_shapes(space, real_shapes, count: int = REAL_SAMPLES) -> set:
    """Build ``count`` distinct samples of ``space`` (a repeat is drawn again) and run each at two real batch
    sizes (train forward and backward, eval forward, each image's eval output equal to its output alone);
    return the batch sizes used."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(7)
    used, hashes = set(), set()
    for _ in range(10 * count):
        if len(hashes) == count:
            break
        arch = space.sample(rng)
        if arch.hash in hashes:
            continue
        hashes.add(arch.hash)
        torch.manual_seed(0)
        model = build_model(arch)
        train_b, eval_b = real_shapes.run(model, arch.input_size, arch.num_classes)   # picked (and asserted) to
        assert train_b != eval_b and min(train_b, eval_b) >= 3, arch.name               # avoid the model's sizes
        used.update((train_b, eval_b))
    assert len(hashes) == count
    return used


@pytest.mark.parametrize("name", shipped_spaces())
def test_fifty_samples_of_every_shipped_space_train_at_real_shapes(name, real_shapes):
    """At a reduced non-square input (NON_SQUARE): the space's own dimensions, every sample buildable there.
    About 20 s of CPU for cifar-attention (the per-layer overhead of 50 deep models, not the input size): the
    only check of this guarantee in the default run."""
    space = SearchSpace.load(name, input_size=NON_SQUARE)
    used = train_samples_at_real_shapes(space, real_shapes)
    assert 3 not in used and 16 not in used and 24 not in used     # the input's channels and sides, never a batch


@pytest.mark.slow
@pytest.mark.parametrize("name", shipped_spaces())
def test_fifty_samples_of_every_shipped_space_train_at_its_own_input(name, real_shapes):
    """At the space's own input size (32x32, depth up to 56 at full width: over a minute on 2 cores, so slow;
    the default run keeps the 50 samples at NON_SQUARE)."""
    space = SearchSpace.load(name)
    assert space.config_of({}).get("input_size", [3, 32, 32]) in ([3, 32, 32], (3, 32, 32))
    train_samples_at_real_shapes(space, real_shapes)


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

"""Shared by the search-space tests: values of every parameter of a registered module."""
from __future__ import annotations

import typing

import pytest

from search_space import AttnasError


def _unwrap(annotation):
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def candidates(spec) -> list:
    """The default of a keyword parameter, then alternatives to try (they may not all validate)."""
    d, ann = spec.default, _unwrap(spec.annotation)
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Literal:
        return [d] + [a for a in args if a != d]
    if origin is typing.Union and type(None) in args:
        return [d, None, 3, 5, 7]
    if ann is bool:
        return [d, not d]
    if ann is int:
        return [d, d + 2, d * 2, 1, 3, 0]
    if ann is float:
        return [d, d / 2 if d else 0.5, 0.25]
    if origin in (tuple, list):
        d = tuple(d)
        return [d, d[::-1], d[:1], d[1:]]
    return [d]


def valid_values(registry, name: str, param: str) -> list:
    """The candidates of ``name``'s ``param`` that validate on their own (others at their defaults)."""
    out = []
    for v in candidates(registry.param_specs(name)[param]):
        value = list(v) if isinstance(v, tuple) else v
        if value in out:
            continue
        try:
            registry.params(name, {param: value}, "t")
        except AttnasError:
            continue
        out.append(value)
    return out


@pytest.fixture(scope="session")
def module_values():
    """``module_values(registry, name, limit=2)``: per parameter of ``name`` (with more than one valid value),
    its default and the first alternatives that validate on their own (a Literal gets one more)."""
    def values(registry, name: str, limit: int = 2) -> dict:
        out = {}
        for param, spec in registry.param_specs(name).items():
            vals = valid_values(registry, name, param)
            vals = vals[: limit + (typing.get_origin(_unwrap(spec.annotation)) is typing.Literal)]
            if len(vals) > 1:
                out[param] = vals
        return out
    return values


@pytest.fixture(scope="session")
def param_values():
    """``param_values(registry, name, param)``: every candidate value of one parameter that validates."""
    return valid_values


BATCH_CANDIDATES = (3, 5, 7, 11, 13, 17, 19, 23)


def sizes_in(model, input_size) -> set:
    """Every size a batch could be confused with: the input's dimensions, every parameter's and every module
    output's dimensions in one eval forward of one image (a batch of 1 adds only 1, never a candidate)."""
    import torch

    seen = set(input_size)
    for p in model.parameters():
        seen.update(p.shape)

    def note(_module, _inputs, out):
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                seen.update(t.shape)

    handles = [m.register_forward_hook(note) for m in model.modules()]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_size))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return seen


def real_batches(model, input_size, count: int = 2) -> list:
    """The first ``count`` of 3, 5, 7, ... that equal no channel count or spatial size in ``model`` at
    ``input_size``, so a batch/channel or batch/spatial mix-up cannot broadcast silently."""
    sizes = sizes_in(model, input_size)
    chosen = [b for b in BATCH_CANDIDATES if b not in sizes][:count]
    assert len(chosen) == count, f"no batch size among {BATCH_CANDIDATES} avoids the model's sizes"
    return chosen


def run_at_real_batches(model, input_size, num_classes: int, loss=None) -> tuple:
    """Train-mode forward and backward at one real batch size, eval-mode forward at another, and each image's
    eval output equal to the one it gets alone (first and last image): returns the two batch sizes."""
    import torch

    train_b, eval_b = real_batches(model, input_size)
    model.train()
    out = model(torch.randn(train_b, *input_size))
    assert out.shape == (train_b, num_classes)
    (loss or (lambda o: o.square().mean()))(out).backward()
    x = torch.randn(eval_b, *input_size)
    with torch.no_grad():
        model.eval()
        out = model(x)
        assert out.shape == (eval_b, num_classes)
        assert torch.isfinite(out).all()
        for i in (0, eval_b - 1):
            alone = model(x[i:i + 1])[0]
            # 1e-3 of the output's scale: batched and single-image kernels sum in another order (torch 2.4's CPU
            # convolutions differ by 2.2e-4 on an untrained Inception-v4 whose logits reach 26,000); an image
            # mixed with another (a batch/channel mix-up) differs by the whole scale
            assert torch.allclose(out[i], alone, rtol=1e-3, atol=1e-3 * (1 + alone.abs().max().item())), \
                f"image {i} of a batch of {eval_b} differs from its output alone"
    model.train()
    return train_b, eval_b


@pytest.fixture(scope="session")
def real_shapes():
    """``real_shapes.batches(model, input_size)``, ``real_shapes.run(model, input_size, num_classes)`` (above)."""
    import types

    return types.SimpleNamespace(batches=real_batches, run=run_at_real_batches, sizes=sizes_in)

import math

import pytest
import torch
from torch import nn

from trainers import FitResult, TrainConfig, evaluate, fit
from trainers.schedule import LRSchedule

from .conftest import tiny_net

CFG = TrainConfig(epochs=4, batch_size=32, lr=0.05, weight_decay=1e-4, schedule="cosine", warmup_epochs=1)
KEYS = {"epoch", "train_loss", "train_top1", "val_loss", "val_top1", "val_top5", "lr", "epoch_time_s"}


def test_fit_reports_history_and_is_deterministic(tiny_data):
    seen = []
    res = fit(tiny_net(), tiny_data, CFG, callback=lambda e, m: seen.append((e, m["val_top1"])))
    assert isinstance(res, FitResult) and res.status == "finished" and res.epochs_run == 4
    assert [e for e, _ in seen] == [1, 2, 3, 4] and KEYS <= set(res.history[-1])
    assert res.metrics["best_val_top1"] == max(r["val_top1"] for r in res.history)
    assert all(0 <= r["val_top1"] <= r["val_top5"] <= 1 for r in res.history)
    assert res.history[-1]["val_top1"] > 0.5  # 4 classes: well above chance
    again = fit(tiny_net(), tiny_data, CFG)
    assert [r["val_loss"] for r in again.history] == [r["val_loss"] for r in res.history]


def test_resume_equals_uninterrupted(tiny_data, tmp_path):
    cfg = CFG.replace(optimizer="adamw", lr=0.01, schedule="plateau", patience=0)
    full_model = tiny_net()
    full = fit(full_model, tiny_data, cfg)
    ckpt = tmp_path / "run.ckpt"
    part = fit(tiny_net(), tiny_data, cfg, callback=lambda e, m: e == 2, checkpoint_path=ckpt)
    assert part.status == "stopped" and part.epochs_run == 2
    resumed_model = tiny_net(seed=123)  # different init: everything must come from the checkpoint
    resumed = fit(resumed_model, tiny_data, cfg, checkpoint_path=ckpt)
    assert resumed.status == "finished" and resumed.epochs_run == 4
    strip = lambda h: [{k: v for k, v in r.items() if not k.endswith("time_s")} for r in h]
    assert strip(resumed.history) == strip(full.history)
    for a, b in zip(full_model.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.equal(a, b)


def test_divergence_is_reported_with_epoch(tiny_data):
    res = fit(tiny_net(), tiny_data, CFG.replace(lr=1e6, warmup_epochs=0, epochs=3))
    assert res.status == "diverged" and "epoch 1" in res.reason and res.epochs_run == 0

    class NaNAfter(nn.Module):
        def __init__(self):
            super().__init__()
            self.net, self.calls = tiny_net(), 0

        def forward(self, x):
            self.calls += 1
            out = self.net(x)
            return out * float("nan") if self.training and self.calls > 8 else out

    res = fit(NaNAfter(), tiny_data, CFG.replace(epochs=5))  # 3 steps/epoch: NaN from epoch 3
    assert res.status == "diverged" and "epoch 3" in res.reason and res.epochs_run == 2
    assert math.isfinite(res.metrics["val_loss"])


def test_out_of_memory_is_reported(tiny_data):
    class Hungry(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(1, 1)

        def forward(self, x):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 64 GiB")

    res = fit(Hungry(), tiny_data, CFG)
    assert res.status == "oom" and "out of memory" in res.reason and res.epochs_run == 0

    class Buggy(Hungry):
        def forward(self, x):
            raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):  # real bugs are not swallowed
        fit(Buggy(), tiny_data, CFG)


def test_evaluate_matches_manual_count(tiny_data):
    model = tiny_net().eval()
    m = evaluate(model, tiny_data.val_x, tiny_data.val_y, batch_size=7)
    with torch.no_grad():
        out = model(tiny_data.val_x)
    assert m["top1"] == pytest.approx((out.argmax(1) == tiny_data.val_y).float().mean().item())
    top4 = out.topk(4, 1).indices.eq(tiny_data.val_y[:, None]).any(1).float().mean().item()
    assert m["top5"] == pytest.approx(top4) == pytest.approx(1.0)  # top-5 capped at 4 classes
    assert m["loss"] == pytest.approx(nn.functional.cross_entropy(out, tiny_data.val_y).item(), rel=1e-5)


def test_schedules():
    cfg = TrainConfig(epochs=10, lr=1.0, warmup_epochs=2, schedule="cosine")
    s = LRSchedule(cfg, steps_per_epoch=10)
    assert s.factor(0) == pytest.approx(0.05) and s.factor(19) == pytest.approx(1.0)
    assert s.factor(60) == pytest.approx(0.5) and s.factor(99) < 0.01
    step = LRSchedule(cfg.replace(schedule="step", warmup_epochs=0, step_epochs=3, gamma=0.5), 10)
    assert [step.factor(e * 10) for e in (0, 2, 3, 6)] == [1.0, 1.0, 0.5, 0.25]
    plateau = LRSchedule(cfg.replace(schedule="plateau", warmup_epochs=0, patience=1, gamma=0.1), 10)
    for loss in (1.0, 0.9, 0.95, 0.95):
        plateau.epoch_end(loss)
    assert plateau.factor(50) == pytest.approx(0.1)


# ---- uint8 storage, precision, scaler ----------------------------------------------------------------------

from trainers import DataConfig, load_dataset  # noqa: E402

from .conftest import pool_net  # noqa: E402

U8_CFG = TrainConfig(epochs=2, batch_size=16, lr=0.05, weight_decay=1e-4, schedule="cosine", augment=True,
                     flip=True, crop_padding=4, eval_batch_size=20)


def _strip(history):
    return [{k: v for k, v in r.items() if not k.endswith("time_s")} for r in history]


def test_uint8_storage_equals_float_storage(cifar_dir):
    """Normalising once in float vs keeping uint8 and normalising per batch: the same logits and loss to float
    tolerance, and (augmentation on) the same training curve."""
    cfg = DataConfig(name="cifar10", data_dir=str(cifar_dir), val_fraction=0.25)
    ref, raw = load_dataset(cfg), load_dataset(cfg, uint8=True)
    model = pool_net().eval()
    with torch.no_grad():
        torch.testing.assert_close(model(raw.normalizer()(raw.val_x)), model(ref.val_x), rtol=1e-5, atol=1e-5)
    a = evaluate(model, ref.val_x, ref.val_y, 7)
    b = evaluate(model, raw.val_x, raw.val_y, 7, normalize=raw.normalizer())
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-5) and a["top1"] == b["top1"] and a["top5"] == b["top5"]
    with pytest.raises(TypeError, match="normalize"):
        evaluate(model, raw.val_x, raw.val_y)
    fa, fb = fit(pool_net(), ref, U8_CFG), fit(pool_net(), raw, U8_CFG)
    assert fa.status == fb.status == "finished" and fa.precision == fb.precision == "fp32"
    for ra, rb in zip(_strip(fa.history), _strip(fb.history)):
        assert ra.keys() == rb.keys()
        for k in ra:
            assert ra[k] == pytest.approx(rb[k], rel=1e-3, abs=1e-4), k


@pytest.mark.parametrize("amp", ["fp16", "bf16"])
def test_resume_exact_with_uint8_data_and_reduced_precision(cifar_dir, tmp_path, amp):
    """fp16 runs with a gradient scaler (its scale and growth tracker go into the checkpoint), bf16 without;
    both on the CPU here, the code path CUDA takes."""
    data = load_dataset(DataConfig(name="cifar10", data_dir=str(cifar_dir), val_fraction=0.25), uint8=True)
    cfg = U8_CFG.replace(epochs=3, amp=amp)
    full_model = pool_net()
    full = fit(full_model, data, cfg)
    assert full.status == "finished" and full.precision == amp
    ckpt = tmp_path / "run.ckpt"
    part = fit(pool_net(), data, cfg, callback=lambda e, m: e == 1, checkpoint_path=ckpt)
    assert part.status == "stopped"
    scaler_state = torch.load(ckpt, weights_only=False)["scaler"]
    if amp == "fp16":
        assert scaler_state["scale"] > 0 and scaler_state["_growth_tracker"] == len(data.train_x) // 16
    else:
        assert scaler_state == {}
    resumed_model = pool_net(seed=5)
    resumed = fit(resumed_model, data, cfg, checkpoint_path=ckpt)
    assert _strip(resumed.history) == _strip(full.history)
    for a, b in zip(full_model.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.equal(a, b)


class _Raises(nn.Module):
    """Trains normally until ``after`` forward calls in the given mode, then raises ``error``."""

    def __init__(self, error, after=0, in_eval=False):
        super().__init__()
        self.net, self.error, self.after, self.in_eval, self.calls = pool_net(4), error, after, in_eval, 0
        self.held = None

    def forward(self, x):
        if self.training != self.in_eval:
            self.calls += 1
            if self.calls > self.after:
                import weakref

                big = torch.empty(1000)  # held by this frame, so by the exception's traceback
                self.held = weakref.ref(big)
                raise type(self.error)(*self.error.args)  # a fresh exception, as a real allocator raises
        return self.net(x)


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 64 GiB"),
                                   MemoryError(),
                                   RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: "
                                                "can't allocate memory: you tried to allocate 68719476736 bytes"),
                                   RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling "
                                                "`cublasCreate(handle)`")])
def test_oom_names_epoch_and_batch_size_and_frees_the_step(tiny_data, error, monkeypatch):
    import importlib

    fit_module = importlib.import_module("trainers.fit")  # (trainers.fit the attribute is the function)

    model = _Raises(error, after=4)  # 3 steps per epoch: epoch 2
    seen = []
    real = fit_module.release_memory
    monkeypatch.setattr(fit_module, "release_memory", lambda device: (seen.append(model.held()), real(device)))
    res = fit(model, tiny_data, CFG)
    assert res.status == "oom" and res.epochs_run == 1
    assert "epoch 2, training at batch size 32 on cpu" in res.reason and "\n" not in res.reason
    assert seen == [None]  # the failed forward's tensors were unreachable when memory was released
    assert all(p.grad is None for p in model.parameters())


def test_oom_during_validation(tiny_data):
    res = fit(_Raises(torch.OutOfMemoryError("CUDA out of memory."), in_eval=True), tiny_data,
              CFG.replace(eval_batch_size=64))
    assert res.status == "oom" and "epoch 1, validation at batch size 64" in res.reason

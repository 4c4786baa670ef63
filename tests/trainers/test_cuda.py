"""The CUDA paths, where a GPU is present (skipped elsewhere): the device set-up a trial gets, its memory cap
and OOM recovery, the precision it resolves to, uint8 data on the device, exact resume with the gradient
scaler, latency on the device. ``python -m pytest -q tests/trainers/test_cuda.py`` on a GPU machine (no Ray,
Optuna or MLflow needed)."""
import pytest
import torch
from torch import nn

from search_space import build_model, load_arch
from trainers import DataConfig, TrainConfig, cached_dataset, clear_dataset_cache, fit, load_dataset, prepare_device
from trainers import evaluate, profile_model
from trainers.device import peak_memory_mb, release_memory
from trainers.precision import device_precision

from .conftest import pool_net

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CFG = TrainConfig(epochs=2, batch_size=16, lr=0.05, weight_decay=1e-4, crop_padding=4, flip=True, eval_batch_size=20)


@pytest.fixture
def gpu():
    device = prepare_device()
    yield device
    clear_dataset_cache()
    prepare_device()  # the whole device again for the next test
    release_memory(device)


def _strip(history):
    return [{k: v for k, v in r.items() if not k.endswith("time_s")} for r in history]


def test_prepare_device(gpu):
    assert gpu == torch.device("cuda:0") and torch.backends.cudnn.benchmark
    prepare_device(0.25)
    if hasattr(torch.cuda, "get_per_process_memory_fraction"):
        assert torch.cuda.get_per_process_memory_fraction(0) == pytest.approx(0.25)
    x = torch.ones(64 << 20, device=gpu)  # 256 MB
    del x
    release_memory(gpu)
    assert torch.cuda.memory_reserved(gpu) - torch.cuda.memory_allocated(gpu) < 32 << 20  # cache given back
    assert torch.cuda.max_memory_allocated(gpu) == torch.cuda.memory_allocated(gpu)  # peak reset


def test_an_allocation_over_the_cap_is_an_oom_that_leaves_memory_free(gpu, cifar_dir):
    total = torch.cuda.get_device_properties(gpu).total_memory
    prepare_device(0.05)
    data = cached_dataset(DataConfig(name="cifar10", data_dir=str(cifar_dir), val_fraction=0.25), gpu)
    base = torch.cuda.memory_allocated(gpu)

    class Greedy(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = pool_net()

        def forward(self, x):
            if self.training:  # above the 5 % cap: must raise, never return
                return self.net(x) + torch.zeros(int(total * 0.06) // 4, device=x.device)[0]
            return self.net(x)

    res = fit(Greedy(), data, CFG, device=gpu)
    assert res.status == "oom" and "epoch 1, training at batch size 16 on cuda:0" in res.reason, res.reason
    params = sum(p.numel() * p.element_size() for p in pool_net().parameters())
    assert torch.cuda.memory_allocated(gpu) <= base + 4 * params + (1 << 20)  # the step's tensors are gone


def test_fit_on_cuda_native_precision_channels_last_uint8(gpu, cifar_dir):
    data = cached_dataset(DataConfig(name="cifar10", data_dir=str(cifar_dir), val_fraction=0.25), gpu)
    assert data.raw and data.train_x.device == gpu
    expected = device_precision(None, gpu)
    if torch.cuda.get_device_capability(gpu) >= (8, 0):
        assert expected.name == "bf16"
    else:
        assert expected.name == "fp16" and expected.scaler
    res = fit(pool_net(), data, CFG, device=gpu)
    assert res.status == "finished" and res.precision == expected.name and res.device == "cuda:0"
    assert all(torch.isfinite(torch.tensor(r["train_loss"])) for r in res.history)
    assert peak_memory_mb(gpu) > 0


def test_uint8_equals_float_on_cuda(gpu, cifar_dir, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # TF32 would round 1-ulp input differences
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    cfg = DataConfig(name="cifar10", data_dir=str(cifar_dir), val_fraction=0.25)
    ref, raw = load_dataset(cfg, gpu), load_dataset(cfg, gpu, uint8=True)
    model = pool_net().to(gpu).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(raw.normalizer()(raw.val_x)), model(ref.val_x), rtol=1e-4, atol=1e-4)
    a = evaluate(model, ref.val_x, ref.val_y, 7)
    b = evaluate(model, raw.val_x, raw.val_y, 7, normalize=raw.normalizer())
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)


@pytest.mark.parametrize("amp", ["fp16", "bf16", "off"])
def test_resume_exact_on_cuda(gpu, cifar_dir, tmp_path, amp, monkeypatch):
    """Bitwise with deterministic cuDNN kernels (autotuning may pick non-deterministic ones, with which even two
    uninterrupted runs differ in the last bits): the CUDA augmentation generator, CUDA RNG and the scaler are
    all restored."""
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    data = cached_dataset(DataConfig(name="cifar10", data_dir=str(cifar_dir), val_fraction=0.25), gpu)
    cfg = CFG.replace(epochs=3, amp=amp)
    full_model = pool_net()
    full = fit(full_model, data, cfg, device=gpu)
    ckpt = tmp_path / "run.ckpt"
    assert fit(pool_net(), data, cfg, callback=lambda e, m: e == 1, checkpoint_path=ckpt, device=gpu).status == "stopped"
    state = torch.load(ckpt, weights_only=False)
    assert bool(state["scaler"]) == (amp == "fp16")
    resumed_model = pool_net(seed=3)
    resumed = fit(resumed_model, data, cfg, checkpoint_path=ckpt, device=gpu)
    assert _strip(resumed.history) == _strip(full.history)
    for a, b in zip(full_model.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.equal(a, b)


def test_latency_on_the_device(gpu):
    model = build_model(load_arch("se-resnet20", input_size=[3, 32, 32], num_classes=10))
    cost = profile_model(model, (3, 32, 32), device=gpu, batch_size=1, train_batch_size=32, repeats=5)
    assert cost["device"] == "cuda:0" and cost["batch_size"] == 1 and cost["mem_method"] == "cuda_max_allocated"
    assert 0 < cost["latency_ms"] < 1000 and cost["peak_mem_mb"] > 0
    assert cost["macs"] == profile_model(model.cpu(), (3, 32, 32), latency=False)["macs"]

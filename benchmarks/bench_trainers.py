"""trainers vs a minimal hand-written PyTorch loop, same process, same in-memory tensors.

    .venv/bin/python benchmarks/bench_trainers.py [--images 512] [--rounds 3] [--threads N]

For CIFAR-size ResNet-20 with and without SE (3x32x32, synthetic data) it prints, as medians over
interleaved rounds (each variant starts from the same weights):
- training throughput (img/s) of ``trainers.fit`` (augmentation on: crop + flip) vs a bare loop (shuffle,
  index, forward, backward, step; no augmentation, no metrics) on normalised float images; and of ``fit`` on
  the same images stored as uint8 and normalised per batch (how a study's trials hold their data); target
  ratio >= 0.9 for both;
- evaluation throughput of ``trainers.evaluate`` vs a bare no-grad loop; target >= 0.9;
- the share of fit's training time spent outside forward/backward/step (shuffle, slicing, augmentation,
  metrics, LR updates), two ways: indirectly, 1 - compute / fit, where compute is the same steps on
  pre-sliced batches (noisy: a difference of two large timings), and directly, by replaying exactly that
  per-batch work without the model and dividing its time by fit's (robust); target < 5%;
- per batch, the two orders for uint8 data: normalise then crop/flip in float (what fit does: the crop pads
  with the channel mean, exactly as in the float storage) vs crop/flip the uint8 batch then normalise.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time
from dataclasses import replace

import torch
import torch.nn.functional as F

from search_space import build_model, load_arch
from trainers import DataConfig, TrainConfig, evaluate, fit, load_dataset
from trainers.augment import augment, random_flip
from trainers.data.normalize import channel_stats, to_uint8

BATCH = 128


def bare_train(model, x, y, perm_seed: int) -> float:
    """Seconds for one epoch of the minimal loop."""
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    model.train()
    steps = len(x) // BATCH
    t = time.perf_counter()
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(perm_seed))
    for i in range(steps):
        idx = perm[i * BATCH:(i + 1) * BATCH]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def compute_only(model, batches) -> float:
    """Seconds of forward/backward/step alone, on batches sliced beforehand."""
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    model.train()
    t = time.perf_counter()
    for xb, yb in batches:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def outside_only(x, y, classes: int, optimizer, seed: int, norm=None) -> float:
    """Seconds of fit's per-batch work other than forward/backward/step, replayed without a model: shuffle,
    index, (normalise uint8,) augment (crop + flip), LR update, loss accumulation and the top-1 count."""
    gen, aug = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    correct = torch.zeros((), dtype=torch.long)
    logits, loss = torch.randn(BATCH, classes), torch.zeros(())
    steps = len(x) // BATCH
    t = time.perf_counter()
    order = torch.randperm(len(x), generator=gen)
    loss_sum = torch.zeros(())
    for i in range(steps):
        idx = order[i * BATCH:(i + 1) * BATCH]
        xb, yb = x[idx], y[idx]
        if norm is not None:
            xb = norm(xb)
        xb = augment(xb, aug, x.shape[-1] // 8, True)
        for group in optimizer.param_groups:
            group["lr"] = 0.05
        loss_sum += loss
        correct += (logits.argmax(1) == yb).sum()
    return time.perf_counter() - t


def _crop_uint8(x, pad: int, gen, fill):
    """random_crop on uint8 images, padding with the per-channel ``fill`` (the mean as a grey level)."""
    n, c, h, w = x.shape
    padded = fill.expand(n, c, h + 2 * pad, w + 2 * pad).clone()
    padded[..., pad:pad + h, pad:pad + w] = x
    off = torch.randint(0, 2 * pad + 1, (2, n), generator=gen)
    rows = off[0, :, None, None] + torch.arange(h)[:, None]
    cols = off[1, :, None, None] + torch.arange(w)
    index = (rows * (w + 2 * pad) + cols).view(n, 1, h * w)
    return padded.view(n, c, -1).gather(2, index.expand(n, c, h * w)).view(n, c, h, w)


def augment_orders(data, repeats: int = 200) -> tuple[float, float]:
    """Microseconds per batch: normalise then augment (float) vs augment the uint8 batch then normalise."""
    norm, gen, x = data.normalizer(), torch.Generator().manual_seed(0), data.train_x
    fill = (torch.tensor(data.mean).view(1, -1, 1, 1) * 255).round().to(torch.uint8)
    pad, idx = x.shape[-1] // 8, torch.randperm(len(x))[:BATCH]
    first = lambda: augment(norm(x[idx]), gen, pad, True)  # noqa: E731
    second = lambda: norm(random_flip(_crop_uint8(x[idx], pad, gen, fill), gen))  # noqa: E731
    out = {first: [], second: []}
    for _ in range(3):
        for fn in out:
            for _ in range(10):
                fn()
            t = time.perf_counter()
            for _ in range(repeats):
                fn()
            out[fn].append((time.perf_counter() - t) / repeats * 1e6)
    return statistics.median(out[first]), statistics.median(out[second])


@torch.no_grad()
def bare_eval(model, x) -> float:
    model.eval()
    t = time.perf_counter()
    for i in range(0, len(x), 512):
        model(x[i:i + 512])
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=512, help="training images per epoch")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data_cfg = DataConfig(name="synthetic", image_size=32, classes=10, num_train=args.images * 10 // 9 + 2,
                          num_test=16, val_fraction=0.1)
    data = load_dataset(data_cfg)
    plain = load_dataset(data_cfg.replace(normalize=False))  # [0, 1]: quantised to uint8, as 8-bit sources are
    u8 = replace(plain, train_x=to_uint8(plain.train_x), val_x=to_uint8(plain.val_x), test_x=to_uint8(plain.test_x))
    u8 = replace(u8, mean=channel_stats(u8.train_x)[0], std=channel_stats(u8.train_x)[1])
    x, y = data.train_x[:args.images], data.train_y[:args.images]
    n = len(x) // BATCH * BATCH
    eval_x, eval_y = torch.cat([x, x])[:1024], torch.cat([y, y])[:1024]
    cfg = TrainConfig(epochs=1, batch_size=BATCH, lr=0.05, schedule="constant", augment=True)
    batches = [(x[i:i + BATCH].clone(), y[i:i + BATCH].clone()) for i in range(0, n, BATCH)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {n} train images/epoch, batch {BATCH}, "
          f"{args.rounds} interleaved rounds (medians)")
    rows = []
    for preset in ("resnet20", "se-resnet20"):
        torch.manual_seed(0)
        init = build_model(load_arch(preset))
        fresh = lambda: copy.deepcopy(init)
        bare_eval(fresh(), eval_x[:BATCH])  # warm-up
        compute_only(fresh(), batches[:1])
        t = {k: [] for k in ("bare", "fit", "fit_u8", "compute", "outside", "outside_u8", "eval_bare", "eval_fit")}
        opt = torch.optim.SGD(init.parameters(), lr=0.05)
        per_image = n / (len(data.train_x) // BATCH * BATCH)
        for r in range(args.rounds):
            t["bare"].append(bare_train(fresh(), x, y, r))
            res = fit(fresh(), data, cfg.replace(seed=r))
            t["fit"].append(res.history[0]["train_time_s"] * per_image)
            res = fit(fresh(), u8, cfg.replace(seed=r))
            t["fit_u8"].append(res.history[0]["train_time_s"] * per_image)
            t["compute"].append(compute_only(fresh(), batches))
            t["outside"].append(outside_only(x[:n], y[:n], data.num_classes, opt, r))
            t["outside_u8"].append(outside_only(u8.train_x[:n], y[:n], data.num_classes, opt, r, u8.normalizer()))
            m = fresh()
            t["eval_bare"].append(bare_eval(m, eval_x))
            t0 = time.perf_counter()
            evaluate(m, eval_x, eval_y, 512)
            t["eval_fit"].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in t.items()}
        rows.append((preset, n / med["bare"], n / med["fit"], med["bare"] / med["fit"], n / med["fit_u8"],
                     med["bare"] / med["fit_u8"], len(eval_x) / med["eval_bare"], len(eval_x) / med["eval_fit"],
                     med["eval_bare"] / med["eval_fit"], 1 - med["compute"] / med["fit"], med["outside"] / med["fit"],
                     med["outside_u8"] / med["fit_u8"]))
    head = f"{'model':<12} {'bare img/s':>10} {'fit img/s':>10} {'ratio':>6} {'fit u8':>7} {'ratio':>6} | " \
           f"{'eval bare':>9} {'evaluate':>9} {'ratio':>6} | {'outside fwd/bwd/step: indirect':>30} {'direct':>7} " \
           f"{'u8':>6}"
    print(head)
    print("-" * len(head))
    for name, b, f, r, fu, ru, eb, ef, er, share, direct, direct_u8 in rows:
        print(f"{name:<12} {b:>10.1f} {f:>10.1f} {r:>6.2f} {fu:>7.1f} {ru:>6.2f} | {eb:>9.1f} {ef:>9.1f} {er:>6.2f} | "
              f"{share:>30.1%} {direct:>7.2%} {direct_u8:>6.2%}")
    print("targets: train ratios >= 0.90 (float and uint8 storage), eval ratio >= 0.90, outside share < 5% (the "
          "direct figures are the reliable ones on a noisy machine)")
    first, second = augment_orders(u8)
    print(f"uint8 batch of {BATCH}: normalise then crop/flip {first:.0f} us, crop/flip uint8 then normalise "
          f"{second:.0f} us (fit does the first: exact padding semantics)")


if __name__ == "__main__":
    main()

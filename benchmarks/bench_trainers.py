"""trainers vs a minimal hand-written PyTorch loop, same process, same in-memory tensors.

    .venv/bin/python benchmarks/bench_trainers.py [--images 512] [--rounds 3] [--threads N]

For CIFAR-size ResNet-20 with and without SE (3x32x32, synthetic data) it prints, as medians over
interleaved rounds (each variant starts from the same weights):
- training throughput (img/s) of ``trainers.fit`` (augmentation on: crop + flip) vs a bare loop (shuffle,
  index, forward, backward, step; no augmentation, no metrics); target ratio >= 0.9;
- evaluation throughput of ``trainers.evaluate`` vs a bare no-grad loop; target >= 0.9;
- the share of fit's training time spent outside forward/backward/step (shuffle, slicing, augmentation,
  metrics, LR updates), two ways: indirectly, 1 - compute / fit, where compute is the same steps on
  pre-sliced batches (noisy: a difference of two large timings), and directly, by replaying exactly that
  per-batch work without the model and dividing its time by fit's (robust); target < 5%.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F

from search_space import build_model, load_arch
from trainers import DataConfig, TrainConfig, evaluate, fit, load_dataset
from trainers.augment import augment
from trainers.fit import _accuracy

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


def outside_only(x, y, classes: int, optimizer, seed: int) -> float:
    """Seconds of fit's per-batch work other than forward/backward/step, replayed without a model: shuffle,
    index, augment (crop + flip), LR update, loss accumulation and the torchmetrics update."""
    gen, aug = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    metric = _accuracy(classes, 1, torch.device("cpu"))
    logits, loss = torch.randn(BATCH, classes), torch.zeros(())
    steps = len(x) // BATCH
    t = time.perf_counter()
    order = torch.randperm(len(x), generator=gen)
    loss_sum = torch.zeros(())
    for i in range(steps):
        idx = order[i * BATCH:(i + 1) * BATCH]
        xb, yb = x[idx], y[idx]
        xb = augment(xb, aug, x.shape[-1] // 8, True)
        for group in optimizer.param_groups:
            group["lr"] = 0.05
        loss_sum += loss
        metric.update(logits, yb)
    return time.perf_counter() - t


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
    data = load_dataset(DataConfig(name="synthetic", image_size=32, classes=10, num_train=args.images * 10 // 9 + 2,
                                   num_test=16, val_fraction=0.1))
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
        t = {k: [] for k in ("bare", "fit", "compute", "outside", "eval_bare", "eval_fit")}
        opt = torch.optim.SGD(init.parameters(), lr=0.05)
        for r in range(args.rounds):
            t["bare"].append(bare_train(fresh(), x, y, r))
            res = fit(fresh(), data, cfg.replace(seed=r))
            t["fit"].append(res.history[0]["train_time_s"] * n / (len(data.train_x) // BATCH * BATCH))
            t["compute"].append(compute_only(fresh(), batches))
            t["outside"].append(outside_only(x[:n], y[:n], data.num_classes, opt, r))
            m = fresh()
            t["eval_bare"].append(bare_eval(m, eval_x))
            t0 = time.perf_counter()
            evaluate(m, eval_x, eval_y, 512)
            t["eval_fit"].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in t.items()}
        rows.append((preset, n / med["bare"], n / med["fit"], med["bare"] / med["fit"],
                     len(eval_x) / med["eval_bare"], len(eval_x) / med["eval_fit"], med["eval_bare"] / med["eval_fit"],
                     1 - med["compute"] / med["fit"], med["outside"] / med["fit"]))
    head = f"{'model':<12} {'bare img/s':>10} {'fit img/s':>10} {'ratio':>6} | {'eval bare':>9} {'evaluate':>9} " \
           f"{'ratio':>6} | {'outside fwd/bwd/step: indirect':>30} {'direct':>7}"
    print(head)
    print("-" * len(head))
    for name, b, f, r, eb, ef, er, share, direct in rows:
        print(f"{name:<12} {b:>10.1f} {f:>10.1f} {r:>6.2f} | {eb:>9.1f} {ef:>9.1f} {er:>6.2f} | {share:>30.1%} "
              f"{direct:>7.2%}")
    print("targets: train ratio >= 0.90, eval ratio >= 0.90, outside share < 5% (the direct figure is the "
          "reliable one on a noisy machine)")


if __name__ == "__main__":
    main()

"""``attnas train CONFIG_OR_PRESET --data NAME``: train one architecture, report validation and test metrics
plus its profile, and write OUT/metrics.json, OUT/model.pt and OUT/arch.yaml (the exact ArchConfig used).

A config exported by a study (``attnas export``, ``<study>/export/``) is trained under the study's recipe (the
``front.json`` beside it: data set and split seed, epochs, training config), so the retrain repeats the study's
measurement; each flag given overrides its part of the recipe, ``--no-recipe`` ignores it. Without a recipe the
defaults below apply.
"""
from __future__ import annotations

NAME = "train"
HELP = "train one architecture on one dataset and report validation/test metrics and its cost"

TRAIN_DEFAULTS = {"epochs": 10, "batch_size": 128, "lr": 0.1, "optimizer": "sgd", "schedule": "cosine",
                  "warmup_epochs": 0.0, "weight_decay": 5e-4, "label_smoothing": 0.0, "augment": True, "seed": 0}
"""What ``attnas train`` uses without a recipe (and without the flag)."""
TRAIN_FLAGS = ("epochs", "batch_size", "lr", "optimizer", "schedule", "warmup_epochs", "weight_decay",
               "label_smoothing", "augment", "seed")


def add_arguments(parser):
    from trainers.config import DATASETS

    d = TRAIN_DEFAULTS
    parser.add_argument("config", help="a preset name or an ArchConfig YAML path (an exported one brings its "
                                       "study's recipe)")
    parser.add_argument("--data", help=f"dataset: {', '.join(DATASETS)} (default: the recipe's, else digits)")
    parser.add_argument("--data-dir", help="folder holding the dataset files (cifar*, tinyimagenet, imagefolder)")
    parser.add_argument("--download", action="store_true",
                        help="cifar10/cifar100: fetch and MD5-check the official archive into --data-dir if missing")
    parser.add_argument("--epochs", type=int, help=f"default: the recipe's, else {d['epochs']}")
    parser.add_argument("--out", help="output folder (default ./attnas-runs/train/<arch name>-<hash>)")
    parser.add_argument("--classes", type=int, help="synthetic data: number of classes (others: from the data)")
    parser.add_argument("--input", help="synthetic data: CxHxW (others: use --image-size)")
    parser.add_argument("--image-size", type=int, help="resize images to this size (default: the recipe's, else "
                                                       "the dataset's)")
    parser.add_argument("--train-subset", type=float, help="use this many training images (or this fraction if < 1)")
    parser.add_argument("--batch-size", type=int, help=f"default: the recipe's, else {d['batch_size']}")
    parser.add_argument("--lr", type=float, help=f"default: the recipe's, else {d['lr']}")
    parser.add_argument("--optimizer", help=f"default: the recipe's, else {d['optimizer']}")
    parser.add_argument("--schedule", help=f"default: the recipe's, else {d['schedule']}")
    parser.add_argument("--warmup-epochs", type=float, help=f"default: the recipe's, else {d['warmup_epochs']}")
    parser.add_argument("--weight-decay", type=float, help=f"default: the recipe's, else {d['weight_decay']}")
    parser.add_argument("--label-smoothing", type=float, help=f"default: the recipe's, else {d['label_smoothing']}")
    parser.add_argument("--no-augment", dest="augment", action="store_const", const=False, default=None)
    parser.add_argument("--seed", type=int, help="weights and split seed (default: the recipe's, else 0)")
    parser.add_argument("--no-recipe", action="store_true", help="ignore an exported config's study recipe")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's; 1 on a busy box)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def recipe_configs(args):
    """``(DataConfig, TrainConfig, recipe or None)``: the exported config's recipe (unless ``--no-recipe``),
    else the defaults, with every flag given on top."""
    from analysis.export import recipe_for
    from trainers import TrainConfig

    recipe = None if args.no_recipe else recipe_for(args.config)
    train = dict(recipe["training"]) if recipe else {**TRAIN_DEFAULTS, "nesterov": True}
    for key in TRAIN_FLAGS:
        value = getattr(args, key)
        if value is not None:
            train[key] = value
    if args.optimizer is not None or recipe is None:
        train["nesterov"] = train["optimizer"] == "sgd"
    return _data_config(args, recipe), TrainConfig.from_dict(train), recipe


def _data_config(args, recipe: dict | None = None):
    from search_space.arch_config import parse_input_size
    from search_space.errors import AttnasError
    from trainers import DataConfig

    base = dict(recipe["data"]) if recipe else {"name": "digits"}
    if args.data is not None and args.data != base.get("name"):
        base = {"name": args.data}            # another data set: its own defaults, not the recipe's
    name = base["name"]
    extra = {}
    if args.input is not None:
        c, h, w = parse_input_size(args.input)
        if name != "synthetic":
            raise AttnasError(f"--input: {args.input!r} is not allowed with --data {name}; allowed: "
                              f"--image-size N (the dataset fixes the channels)")
        if h != w:
            raise AttnasError(f"--input: {args.input!r} is not allowed; allowed: square images (H = W)")
        extra.update(channels=c, image_size=h)
    if args.classes is not None:
        if name != "synthetic":
            raise AttnasError(f"--classes: {args.classes} is not allowed with --data {name}; allowed: only "
                              f"with --data synthetic (a dataset fixes its class count)")
        extra["classes"] = args.classes
    if args.image_size is not None:
        extra["image_size"] = args.image_size
    sub = args.train_subset
    if sub is not None:
        extra["train_subset"] = int(sub) if sub >= 1 else float(sub)
    if args.data_dir is not None:
        extra["data_dir"] = args.data_dir
    if args.seed is not None:
        extra["seed"] = args.seed
    if args.download:
        extra["download"] = True
    return DataConfig.from_dict({**base, **extra})


def run(args) -> int:
    import json
    import time
    from pathlib import Path

    import torch
    from tqdm import tqdm

    from search_space import build_model, load_arch
    from search_space.errors import AttnasError
    from trainers import evaluate, fit, load_dataset, profile_model

    start = time.perf_counter()
    if args.threads is not None:
        if args.threads < 1:
            raise AttnasError(f"--threads: {args.threads} is not allowed; allowed: an integer >= 1")
        torch.set_num_threads(args.threads)
    data_cfg, train_cfg, recipe = recipe_configs(args)
    if recipe is not None:
        given = [f"--{k.replace('_', '-')}" for k in ("data", "data_dir", "image_size", "train_subset", *TRAIN_FLAGS)
                 if getattr(args, k) is not None]
        print(f"recipe of study {recipe.get('study', '?')} (front.json beside {args.config}): {data_cfg.name} split "
              f"seed {data_cfg.seed}, {train_cfg.epochs} epochs, {train_cfg.optimizer} lr {train_cfg.lr:g} batch "
              f"{train_cfg.batch_size}" + (f"; overridden: {', '.join(given)}" if given else ""))
    try:
        device = torch.device(args.device)
    except RuntimeError:
        raise AttnasError(f"--device: {args.device!r} is not allowed; allowed: cpu, cuda, cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AttnasError(f"--device: {args.device!r} is not available; allowed: cpu")
    data = load_dataset(data_cfg, device)
    arch = load_arch(args.config, num_classes=data.num_classes, input_size=list(data.input_size))
    torch.manual_seed(train_cfg.seed)
    model = build_model(arch)
    out = Path(args.out or f"attnas-runs/train/{arch.name.replace('@', '-').replace('+', '_')}-{arch.hash}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "arch.yaml").write_text(arch.to_yaml())
    print(f"{arch.name}: {len(data.train_x)} train / {len(data.val_x)} val / {len(data.test_x)} test images "
          f"{'x'.join(map(str, data.input_size))}, {data.num_classes} classes, {train_cfg.epochs} epochs on {device}")

    bar = tqdm(total=train_cfg.epochs, unit="epoch", disable=args.no_progress)

    def progress(epoch: int, m: dict) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{m['train_loss']:.3f}", val_top1=f"{m['val_top1']:.3f}")

    result = fit(model, data, train_cfg, callback=progress, device=device)
    bar.close()
    metrics = {"status": result.status, "reason": result.reason, "epochs": result.epochs_run}
    if result.status == "finished":
        val = evaluate(model, data.val_x, data.val_y)
        test = evaluate(model, data.test_x, data.test_y)
        metrics.update({f"val_{k}": v for k, v in val.items()})
        metrics.update({f"test_{k}": v for k, v in test.items()})
    cost = profile_model(model, arch.input_size, device=device, train_batch_size=min(train_cfg.batch_size, 32))
    metrics.update(cost)
    metrics.update(wall_time_s=time.perf_counter() - start, train_time_s=result.wall_time_s, arch=arch.name,
                   arch_hash=arch.hash, data=data_cfg.to_dict(), train=train_cfg.to_dict(), history=result.history)
    torch.save(model.state_dict(), out / "model.pt")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))

    if result.status != "finished":
        print(f"run {result.status}: {result.reason}")
    else:
        print(f"val  top1 {metrics['val_top1']:.4f}  top5 {metrics['val_top5']:.4f}  loss {metrics['val_loss']:.4f}")
        print(f"test top1 {metrics['test_top1']:.4f}  top5 {metrics['test_top5']:.4f}  loss {metrics['test_loss']:.4f}")
    print(f"params {cost['params']:,}  MACs {cost['macs'] / 1e6:.2f}M  latency {cost['latency_ms']:.2f} ms "
          f"(batch 1, {device})  wall {metrics['wall_time_s']:.1f} s")
    print(f"wrote {out}/metrics.json, model.pt, arch.yaml")
    return 0 if result.status == "finished" else 1

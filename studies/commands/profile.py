"""``attnas profile CONFIG_OR_PRESET``: parameters, MACs (including the attention modules' functional ops)
and, unless --no-latency, the batch-1 inference latency of the built model; with --train also the train-step time
and peak training memory (the slow part: a batch-32 forward + backward, 15x the rest for resnet50 at 224 px)."""
from __future__ import annotations

NAME = "profile"
HELP = "count parameters and MACs of an architecture and time it"


def add_arguments(parser):
    parser.add_argument("config", help="a preset name or an ArchConfig YAML path")
    parser.add_argument("--input", help="input size CxHxW (default: the config's, e.g. 3x224x224)")
    parser.add_argument("--classes", type=int, help="number of classes (default: the config's)")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.add_argument("--no-latency", action="store_true", help="skip timing (params and MACs only)")
    parser.add_argument("--batch-size", type=int, default=1, help="batch for the inference latency (default 1)")
    parser.add_argument("--train", action="store_true",
                        help="also time a train step and estimate its peak memory (at --train-batch-size)")
    parser.add_argument("--train-batch-size", type=int, default=32, help="batch for the train-step timing")
    parser.add_argument("--device", default="cpu")


def run(args) -> int:
    import json

    import torch

    from search_space import build_model, load_arch
    from search_space.errors import AttnasError
    from trainers import profile_model

    for name in ("batch_size", "train_batch_size"):
        if getattr(args, name) < 1:
            raise AttnasError(f"--{name.replace('_', '-')}: {getattr(args, name)} is not allowed; allowed: >= 1")
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        raise AttnasError(f"--device: {args.device!r} is not available; allowed: cpu")
    arch = load_arch(args.config, num_classes=args.classes, input_size=args.input)
    model = build_model(arch)
    cost = profile_model(model, arch.input_size, device=args.device, latency=not args.no_latency,
                         batch_size=args.batch_size, train_batch_size=args.train_batch_size, train=args.train)
    cost = {"arch": arch.name, "input_size": list(arch.input_size), "num_classes": arch.num_classes, **cost}
    if args.json:
        print(json.dumps(cost))
        return 0
    for key, value in cost.items():
        if key in ("params", "macs"):
            value = f"{value:,}"
        elif isinstance(value, float):
            value = f"{value:.3f}"
        print(f"{key:<17} {value}")
    return 0

"""``attnas space SPACE_OR_STUDY.yaml``: check a search space before a study runs on it.

Validates the space (a space YAML, a shipped space name, or a study YAML whose data set fixes the classes and
image size), prints its exact size, each dimension's choices and where it applies, and the MACs and parameter
range of a sample (every architecture when the space is small); ``--macs-budget X`` adds the share of the space
under X MACs, ``--sample N`` writes N distinct architectures as ArchConfig YAMLs.
"""
from __future__ import annotations

from pathlib import Path

NAME = "space"
HELP = "validate a search space (or a study's) and print its size, dimensions and cost range"

ENUMERATE_UP_TO = 2000
"""A space this small is costed in full instead of by sample."""


def add_arguments(parser):
    parser.add_argument("space", metavar="SPACE_OR_STUDY", help="a search-space YAML, a shipped space name "
                                                                "(cifar-attention, quick) or a study YAML")
    parser.add_argument("--macs-budget", type=float, metavar="X", help="also print the share of the space under X MACs")
    parser.add_argument("--sample", type=int, metavar="N", help="write N distinct sampled architectures as YAMLs")
    parser.add_argument("--out", metavar="DIR", help="folder for --sample (default ./attnas-space-sample)")
    parser.add_argument("--cost-sample", type=int, default=200, metavar="K",
                        help=f"architectures drawn for the cost range (default 200; spaces of at most "
                             f"{ENUMERATE_UP_TO} are costed in full)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")


def load_space(ref: str):
    """``(SearchSpace, where)`` from a space YAML, a shipped space name or a study YAML (its space at its data
    set's classes and input size); a bad file is one AttnasError line."""
    from search_space.errors import AttnasError
    from search_space.space import SearchSpace, resolve_space
    from search_space.yaml_io import parse_yaml

    path = Path(ref)
    data = parse_yaml(path.read_text(), str(path)) if path.is_file() else None
    if isinstance(data, dict) and "dimensions" not in data and ("space" in data or "arms" in data):
        from studies.config import StudyConfig
        from trainers import describe_dataset

        cfg = StudyConfig.from_yaml(path)
        if cfg.space is None:
            raise AttnasError(f"space: study {str(path)!r} has no space (arms only); allowed: a study with a space")
        classes, size = describe_dataset(cfg.data_config())
        return (cfg.search_space(num_classes=classes, input_size=list(size)),
                f"study {cfg.name} on {cfg.data_config().name} ({classes} classes, {'x'.join(map(str, size))})")
    if path.is_file() and not isinstance(data, dict):
        raise AttnasError(f"space: {str(path)!r} holds {type(data).__name__}; allowed: a mapping with fixed and "
                          f"dimensions, or a study")
    space = SearchSpace.from_dict(data if data is not None else resolve_space(ref))
    return space, f"space {space.name}"


def applies(space, dim) -> str:
    """Where a dimension is asked: always, or under the conditions the registries and the YAML set."""
    from search_space.enumeration import COMPONENTS

    where = []
    comp = dim.component()
    if comp is not None:
        slot, param = comp
        kind = "attention" if slot.startswith("extra_attention") else slot
        reg = COMPONENTS[kind]
        types = [t for t in _type_values(space, f"{slot}.type") if t in reg]
        having = [t for t in types if param in reg.param_specs(t)]
        if len(having) < len(types):
            where.append(f"{slot}.type in {{{', '.join(map(str, having))}}} (types with {param!r})")
    if dim.by is not None:
        where.append(f"choices per {dim.by}: " + "; ".join(f"{k}: {', '.join(map(str, v))}"
                                                           for k, v in dim.choices_by.items()))
    for parent, values in dim.when.items():
        where.append(f"{parent} in {{{', '.join(map(str, values))}}}")
    if dim.path == "insertion_point":
        where.append("filtered to the points each attention type allows; asked where attention is not none")
    if dim.path == "stage_mask":
        where.append("masks of the backbone's stage count; asked where attention is not none")
    if dim.path.startswith("connection.") or dim.path.startswith("gating."):
        where.append("where the attention can take one")
    return "; ".join(where) or "always"


def _type_values(space, path: str) -> list:
    for d in space.dimensions:
        if d.path == path:
            return [v for vs in (d.choices_by.values() if d.by else [d.values()]) for v in vs]
    v = space.fixed.get(path)
    if v is None:
        from search_space.enumeration import COMPONENTS
        head = path.split(".")[0]
        return COMPONENTS["attention" if head == "extra_attention" else head].names()
    return [v]


def choices_text(dim) -> str:
    from search_space.dimensions import decode

    if dim.by is not None:
        return "per parent (below)"
    if dim.choices is not None:
        return ", ".join(str(decode(v, dim)) for v in dim.choices)
    return f"{dim.low:g} .. {dim.high:g}" + (f" step {dim.step:g}" if dim.step else "") + (" (log)" if dim.log else "")


def cost_table(space, seed: int, k: int):
    """``(rows, how)``: (params, MACs, arch) of every architecture of a small space, else of ``k`` draws."""
    from search_space.cost import estimate_cost

    size = space.size()
    if size is not None and size <= ENUMERATE_UP_TO:
        archs = list(space.configs())
        how = f"all {len(archs)} architectures"
    else:
        import numpy as np

        rng = np.random.default_rng(seed)
        archs = [space.sample(rng) for _ in range(k)]
        how = (f"{k} draws (seed {seed}; the walk picks uniformly among the open choices at each step, "
               f"so this is not uniform over the space)")
    return [(*estimate_cost(a), a) for a in archs], how


def _quantiles(values) -> str:
    import numpy as np

    q = np.percentile(values, [0, 50, 100])
    return f"min {q[0] / 1e6:.3f} M, median {q[1] / 1e6:.3f} M, max {q[2] / 1e6:.3f} M"


def write_sample(space, n: int, out: Path, seed: int) -> list[Path]:
    """Write ``n`` distinct architectures (fewer only if the space has fewer) as ``NN-<name>-<hash>.yaml``."""
    import numpy as np

    from analysis.export import sanitise

    rng = np.random.default_rng(seed)
    size = space.size()
    want = n if size is None else min(n, size)
    seen: dict = {}
    tries = 0
    while len(seen) < want and tries < 50 * want:
        arch = space.sample(rng)
        seen.setdefault(arch.hash, arch)
        tries += 1
    out.mkdir(parents=True, exist_ok=True)
    width = max(2, len(str(len(seen))))
    paths = []
    for i, arch in enumerate(seen.values(), start=1):
        p = out / f"{i:0{width}d}-{sanitise(arch.name)}-{arch.hash}.yaml"
        p.write_text(arch.to_yaml(header=f"sampled by attnas space from {space.name} (seed {seed}, draw {i})"))
        paths.append(p)
    return paths


def run(args) -> int:
    from search_space.errors import AttnasError

    if args.sample is not None and args.sample < 1:
        raise AttnasError(f"--sample: {args.sample} is not allowed; allowed: a positive integer")
    if args.cost_sample < 1:
        raise AttnasError(f"--cost-sample: {args.cost_sample} is not allowed; allowed: a positive integer")
    if args.macs_budget is not None and not args.macs_budget > 0:
        raise AttnasError(f"--macs-budget: {args.macs_budget:g} is not allowed; allowed: a positive number of MACs")
    space, where = load_space(args.space)
    size = space.size()
    print(f"{where}: valid; {'continuous (no finite size)' if size is None else f'{size:,} architectures'} "
          f"(distinct buildable configs), hash {space.hash}")
    print("fixed: " + ", ".join(f"{k}={v}" for k, v in space.fixed.items()))
    rows = [("dimension", "choices", "applies")] + [(d.path, choices_text(d), applies(space, d))
                                                    for d in space.dimensions]
    w0, w1 = (max(len(r[i]) for r in rows) for i in (0, 1))
    for r in rows:
        print(f"  {r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}")
    costs, how = cost_table(space, args.seed, args.cost_sample)
    print(f"MACs over {how}: {_quantiles([c[1] for c in costs])}")
    print(f"params: {_quantiles([c[0] for c in costs])}")
    if args.macs_budget is not None:
        under = sum(c[1] <= args.macs_budget for c in costs)
        print(f"under --macs-budget {args.macs_budget:g} MACs: {under}/{len(costs)} = {100 * under / len(costs):.1f}% "
              f"of {'the space' if how.startswith('all') else 'the draws'}")
    if args.sample:
        out = Path(args.out or "attnas-space-sample")
        paths = write_sample(space, args.sample, out, args.seed)
        print(f"wrote {len(paths)} architecture{'s' * (len(paths) != 1)} to {out}/ (train one with: "
              f"attnas train {paths[0]})")
    return 0

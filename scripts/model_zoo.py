"""Write docs/MODEL_ZOO.md: every preset with its classes, input, parameters and MACs at its native input.

    .venv/bin/python scripts/model_zoo.py

The counts come from search_space.cost.estimate_cost (the config alone, no build), which equals
trainers.count_params / count_macs of the built model (tests/search_space/test_presets.py checks every preset).
"""
from pathlib import Path

from search_space import load_arch
from search_space.cost import estimate_cost
from search_space.presets import preset_description, preset_names


def main() -> None:
    rows = ["| preset | classes | input | params (M) | MACs (M) | description |", "|---|---|---|---|---|---|"]
    for name in preset_names():
        arch = load_arch(name)
        params, macs = estimate_cost(arch)
        size = "x".join(map(str, arch.input_size))
        rows.append(f"| `{name}` | {arch.num_classes} | {size} | {params / 1e6:.3f} | "
                    f"{macs / 1e6:,.1f} | {preset_description(name)} |")
    out = Path(__file__).resolve().parent.parent / "docs" / "MODEL_ZOO.md"
    out.write_text("# Model zoo\n\nEvery shipped preset (`attnas presets`), counted at its native input with "
                   "`attnas profile`'s rules (MACs: thop plus the attention operations thop does not see; "
                   "see trainers/profile.py), from the config alone by `search_space.cost.estimate_cost`, which "
                   "equals those counters on the built model. Regenerate with "
                   "`.venv/bin/python scripts/model_zoo.py`.\n\n" + "\n".join(rows) + "\n")
    print(f"{len(rows) - 2} presets -> {out}")


if __name__ == "__main__":
    main()

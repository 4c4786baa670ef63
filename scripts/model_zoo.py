"""Write docs/MODEL_ZOO.md: every preset with its classes, input, parameters and MACs at its native input.

    .venv/bin/python scripts/model_zoo.py
"""
from pathlib import Path

import torch

from search_space import build_model, load_arch
from search_space.presets import preset_description, preset_names
from trainers import count_macs, count_params


def main() -> None:
    torch.set_num_threads(1)
    rows = ["| preset | classes | input | params (M) | MACs (M) | description |", "|---|---|---|---|---|---|"]
    for name in preset_names():
        arch = load_arch(name)
        with torch.device("meta"):
            model = build_model(arch)
        macs = count_macs(model, arch.input_size, device="meta")
        size = "x".join(map(str, arch.input_size))
        rows.append(f"| `{name}` | {arch.num_classes} | {size} | {count_params(model) / 1e6:.3f} | "
                    f"{macs / 1e6:,.1f} | {preset_description(name)} |")
        print(rows[-1], flush=True)
    out = Path(__file__).resolve().parent.parent / "docs" / "MODEL_ZOO.md"
    out.write_text("# Model zoo\n\nEvery shipped preset (`attnas presets`), counted at its native input with "
                   "`attnas profile`'s rules (MACs: thop plus the attention operations thop does not see; "
                   "see trainers/profile.py). Regenerate with `.venv/bin/python scripts/model_zoo.py`.\n\n"
                   + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()

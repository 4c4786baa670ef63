"""Named, shipped ArchConfigs: ``search_space/presets/<name>.yaml`` in exactly the format ``attnas export``
writes. The comment lines after the first are the preset's description."""
from __future__ import annotations

from pathlib import Path

from .errors import AttnasError

PRESET_DIR = Path(__file__).parent / "presets"


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    path = PRESET_DIR / f"{name}.yaml"
    if not path.exists():
        raise AttnasError(f"config: {name!r} is neither a file nor a preset; allowed: a YAML path or one of "
                          f"{', '.join(preset_names())}")
    return path


def preset_description(name: str) -> str:
    lines = preset_path(name).read_text().splitlines()
    return " ".join(l[1:].strip() for l in lines[1:] if l.startswith("#")).strip()


def write_preset(name: str, arch, description: str) -> Path:
    """Write ``arch`` as preset ``name`` (used when adding presets; the files are committed)."""
    path = PRESET_DIR / f"{name}.yaml"
    path.write_text(arch.to_yaml(header=description))
    return path


RENAMED = {
    "attention": {"csm": {"sam_reduction": "qk_reduction"}, "sk": {"min_dim": "min_width"},
                  "triplet_ca": {"hidden": "min_width"}, "triplet": {"conv_act": "act"},
                  "triplet_lkn": {"conv_act": "act", "local_kernel": "local_kernel_size",
                                  "dilated_kernel": "dilated_kernel_size"},
                  "lka": {"local_kernel": "local_kernel_size", "dilated_kernel": "dilated_kernel_size"},
                  "lka_mb": {"local_kernel": "local_kernel_size", "dilated_kernels": "dilated_kernel_sizes"},
                  "replk": {"kernel": "kernel_size", "small_kernel": "small_kernel_size"}},
    "connection": {f: {"match_reduction": "reduction"} for f in ("direct", "weighted", "softmax")},
    "gating": {"fa": {"r1": "reduction", "r2": "expansion"}},
}
"""Parameter renames of issue 10 (one name per knob across modules): component -> type -> old -> new.
:func:`migrate` applies them (and the value ``act: none`` -> ``identity``) to a config written before."""

REMOVED = {"attention": {"triplet_lkn": ("zpool_stats",)}}
"""Parameters a module no longer has (issue 12: TripletLKN's learned 1x1 compression replaced its z-pool):
component -> type -> names; :func:`migrate` drops them."""


def migrate(data: dict) -> dict:
    """A config mapping with the renamed parameters of :data:`RENAMED` under their new names."""
    out = dict(data)

    def fix(kind: str, comp):
        if not isinstance(comp, dict):
            return comp
        comp = dict(comp)
        for old, new in RENAMED.get(kind, {}).get(comp.get("type"), {}).items():
            if old in comp:
                comp[new] = comp.pop(old)
        for name in REMOVED.get(kind, {}).get(comp.get("type"), ()):
            comp.pop(name, None)
        if kind == "attention" and comp.get("act") == "none":
            comp["act"] = "identity"
        return comp

    for kind in ("attention", "connection", "gating"):
        if kind in out:
            out[kind] = fix(kind, out[kind])
    if isinstance(out.get("extra_attention"), dict):
        out["extra_attention"] = {p: fix("attention", c) for p, c in out["extra_attention"].items()}
    return out


def refresh_presets() -> list[str]:
    """Rewrite every preset in canonical export form (after a registry gains or renames a parameter, say);
    return the names whose file changed."""
    import yaml

    from .arch_config import ArchConfig

    changed = []
    for name in preset_names():
        path = PRESET_DIR / f"{name}.yaml"
        old = path.read_text()
        arch = ArchConfig.from_dict(migrate(yaml.safe_load(old)), check_fits=False)
        new = arch.to_yaml(header=preset_description(name))
        if new != old:
            path.write_text(new)
            changed.append(name)
    return changed


if __name__ == "__main__":
    print("\n".join(refresh_presets()) or "all presets up to date")

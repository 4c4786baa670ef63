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


def refresh_presets() -> list[str]:
    """Rewrite every preset in canonical export form (after a registry gains a parameter, say); return
    the names whose file changed."""
    import yaml

    from .arch_config import ArchConfig

    changed = []
    for name in preset_names():
        path = PRESET_DIR / f"{name}.yaml"
        old = path.read_text()
        arch = ArchConfig.from_dict(yaml.safe_load(old), check_build=False)
        new = arch.to_yaml(header=preset_description(name))
        if new != old:
            path.write_text(new)
            changed.append(name)
    return changed


if __name__ == "__main__":
    print("\n".join(refresh_presets()) or "all presets up to date")

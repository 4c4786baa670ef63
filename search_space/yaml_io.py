"""Reading and writing YAML at the edge: a parse error becomes one AttnasError line naming what was being read.
libyaml's C loader and dumper are used where PyYAML has them (5-10x faster, the same documents)."""
from __future__ import annotations

import yaml

from .errors import AttnasError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def parse_yaml(text: str, where: str):
    """``yaml.safe_load(text)``, or AttnasError("<where>: not valid YAML (<first line of the reason>)")."""
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as e:
        raise AttnasError(f"{where}: not valid YAML ({str(e).splitlines()[0]})") from None


def dump_yaml(data, **options) -> str:
    """``yaml.safe_dump(data, **options)``."""
    return yaml.dump(data, Dumper=_DUMPER, **options)

"""Reading YAML at the edge: a parse error becomes one AttnasError line naming what was being read."""
from __future__ import annotations

import yaml

from .errors import AttnasError


def parse_yaml(text: str, where: str):
    """``yaml.safe_load(text)``, or AttnasError("<where>: not valid YAML (<first line of the reason>)")."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise AttnasError(f"{where}: not valid YAML ({str(e).splitlines()[0]})") from None

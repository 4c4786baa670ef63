"""No field loses its domain: every numeric parameter of every registered module states one (a constraint
marker in its annotation, enforced at registration), and an out-of-domain value for each of them, derived from
the annotations here rather than listed, is refused with the one-line error naming the field and the value."""
from __future__ import annotations

import math
from typing import Annotated

import pytest
import yaml

from search_space import ArchConfig, AttnasError
from search_space.constraints import Positive
from search_space.presets import preset_path
from search_space.registry import ATTENTION, BACKBONES, CONNECTIONS, GATINGS, check_signature, domain_markers

REGISTRIES = (ATTENTION, BACKBONES, CONNECTIONS, GATINGS)


def numeric_fields():
    for registry in REGISTRIES:
        for name in registry.names():
            for param, spec in registry.param_specs(name).items():
                number, markers = domain_markers(spec.annotation)
                if number is not None:
                    yield pytest.param(registry, name, param, number, markers,
                                       id=f"{registry.kind}-{name}-{param}")


FIELDS = list(numeric_fields())


def bad_values(spec, number, markers) -> list:
    """Each marker's ``outside`` value, placed where the annotation puts the marker (inside a tuple where the
    parameter is one), and for floats NaN and infinity."""
    tuple_valued = isinstance(spec.default, tuple)
    out = []
    for m in markers:
        v = m.outside
        if tuple_valued and not isinstance(v, tuple):
            inner = [m.outside] if not spec.default else [m.outside, *spec.default[1:]]
            out.append(inner)
        else:
            out.append(list(v) if isinstance(v, tuple) else v)
    if number is float:
        out += [math.nan, math.inf, -math.inf]
    return out


def test_every_registry_has_numeric_fields_to_check():
    kinds = {p.values[0].kind for p in FIELDS}
    assert kinds == {"attention", "backbone", "connection", "gating"} and len(FIELDS) >= 60


@pytest.mark.parametrize("registry, name, param, number, markers", FIELDS)
def test_out_of_domain_value_is_one_line(registry, name, param, number, markers):
    spec = registry.param_specs(name)[param]
    values = bad_values(spec, number, markers)
    assert values, f"{registry.kind} {name}.{param} has no value outside its domain to try"
    for value in values:
        with pytest.raises(AttnasError) as err:
            registry.params(name, {param: value}, "f")
        text = str(err.value)
        assert text.startswith(f"f.{param}") and "\n" not in text and "allowed:" in text, text
    # the default is inside the domain (so the values above fail for their domain, not for another reason)
    registry.params(name, {param: spec.default if not isinstance(spec.default, tuple) else list(spec.default)}, "f")


def test_negative_width_is_refused_at_the_config_edge():
    """The issue's case: se-resnet56 with ``backbone.width: -0.5`` built an 8,725-parameter network."""
    data = yaml.safe_load(preset_path("se-resnet56").read_text())
    data["backbone"]["width"] = -0.5
    with pytest.raises(AttnasError, match=r"^backbone.width: -0.5 is not allowed; allowed: a number > 0$"):
        ArchConfig.from_dict(data)
    data["backbone"]["width"] = 0.0
    with pytest.raises(AttnasError, match="backbone.width: 0.0"):
        ArchConfig.from_dict(data)


def test_a_number_without_a_domain_cannot_register():
    def factory(module, *, scale: float = 1.0, depth: Annotated[int, Positive] = 2):
        return module

    def optional(module, *, size: int | None = None):
        return module

    for bad, field in ((factory, "scale"), (optional, "size")):
        with pytest.raises(TypeError, match=f"parameter '{field}': a number with no domain"):
            check_signature("connection", "bad", bad)

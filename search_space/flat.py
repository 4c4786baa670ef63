"""The flat encoding: one static vector of Optuna parameters for samplers that need one (NSGA-II evolves only
the parameters every trial shares; QMC fixes its space from the first trial).

A dimension's open choices depend on what was decided before it (SK goes only at ``conv``, a 4-stage backbone
takes 4-entry masks, a `by` dimension follows its parent). Each distinct set of open choices is a *condition
class* and gets its own categorical parameter whose choices are exactly that set, named as in define-by-run
(``insertion_point|pre_add,post_add``, ``insertion_point|conv``, ``stage_mask|1111,0111``; a dimension whose every
choice is open keeps its plain name). Every parameter of every class is asked on every trial, so the vector is
static; the walk then reads, at each step, the parameter of the class that step is in:

* the value read is always legal, so nothing is repaired: the active parameter's stored value is the value
  built, and a uniform vector gives each step a uniform choice among its open ones, exactly the distribution
  of define-by-run sampling (type uniform, then a point uniform among the type's legal points, ...);
* the parameters of the classes a trial does not reach are asked and ignored (they carry no information;
  NSGA-II's crossover and mutation on them are neutral).
"""
from __future__ import annotations

from .dimensions import param_name
from .enumeration import STAGES
from .frozen import FrozenDict


class FlatParams:
    """name -> (dimension, choices or None for a numeric range), in the order they are asked."""

    def __init__(self, params: dict):
        self.params = params

    def distributions(self) -> dict:
        import optuna.distributions as od

        out = {}
        for name, (dim, values) in self.params.items():
            if values is not None:
                out[name] = od.CategoricalDistribution(list(values))
            elif dim.integer:
                out[name] = od.IntDistribution(int(dim.low), int(dim.high), step=int(dim.step or 1), log=dim.log)
            else:
                out[name] = od.FloatDistribution(dim.low, dim.high, step=dim.step, log=dim.log)
        return out

    def draw(self, rng) -> dict:
        """One uniform flat vector from a numpy Generator (name -> value), as a RandomSampler would draw it."""
        from .space import uniform_choice

        out = {}
        for name, (dim, values) in self.params.items():
            if values is None and not dim.finite:
                out[name] = float(rng.uniform(dim.low, dim.high))
            else:
                out[name] = uniform_choice(rng, dim.values() if values is None else values)
        return out


class FlatChooser:
    """Reads each step's value from a complete flat vector (name -> value)."""

    def __init__(self, vector: dict):
        self.vector = vector

    @classmethod
    def ask(cls, space, trial) -> "FlatChooser":
        """Ask ``trial`` every parameter of the space's flat vector, in a fixed order."""
        from .space import OptunaChooser

        asker = OptunaChooser(trial)
        return cls({name: asker.pick(name, dim, values) for name, (dim, values) in flat_params(space).params.items()})

    def pick(self, name, dim, values):
        return self.vector[name]


def flat_params(space) -> FlatParams:
    """The flat vector of ``space`` (computed once per space: it visits every structure)."""
    plan = space.plan
    if plan.flat is None:
        plan.flat = FlatParams(_collect(plan))
    return plan.flat


def _collect(plan) -> dict:
    """Every condition class of every dimension the walk can reach, as name -> (dimension, choices)."""
    found: dict[str, tuple] = {}
    memo: dict = {}

    def add(dim, values):
        found.setdefault(param_name(dim, values), (dim, values))

    def slot_classes(k: int, s: FrozenDict, jset: int | None) -> None:
        dim, slot = plan.dims[k], plan.slot[k]
        if not dim.finite:
            add(dim, None)
            return
        table = plan.table(slot, s)
        if slot == "backbone":
            subsets = [tuple(plan.open_backbones(s))]
        else:
            point = plan.slot_point(slot, s)
            subsets = [values for bits, values in plan.partition(slot, table, s, point) if bits & jset]
        pos = table.dims.index(k)
        parent = plan.value(dim.by, s) if dim.by else None
        for ok in subsets:
            key = (table, ok if len(ok) != len(table.values) else None, pos, parent)
            if key not in memo:
                memo[key] = _prefix_options(table, set(ok), pos, dim, parent)
            for values in memo[key]:
                add(dim, values)

    def visit(start: int, s: FrozenDict, jset: int | None) -> None:
        i, s = plan.node(start, s)
        for k in range(start, min(i, len(plan.dims))):
            if plan.slot[k] is not None and plan.applies(plan.dims[k], s):
                slot_classes(k, s, jset)
        if plan.is_leaf(i, s):
            return
        if i >= plan.boundary and STAGES not in s:
            for count in plan.stage_counts(s):
                child = plan.child(s, STAGES, count)
                bits = plan.bits(plan.node(i, child))
                if bits:
                    visit(i, child, bits)
            return
        dim = plan.dims[i]
        children = [(v, plan.bits(node)) for v, node in plan.children(i, s)]
        patterns = {tuple(v for v, b in children if b & (1 << j))
                    for j in _members(jset)} if jset is not None else {tuple(v for v, b in children if b)}
        for values in patterns:
            if values:
                add(dim, values)
        for v, b in children:
            if jset is None and b:
                visit(i + 1, plan.child(s, dim.path, v), None)
            elif jset is not None and b & jset:
                visit(i + 1, plan.child(s, dim.path, v), b & jset)

    visit(0, plan.empty, None)
    return found


def _members(bits: int):
    j = 0
    while bits:
        if bits & 1:
            yield j
        bits >>= 1
        j += 1


def _prefix_options(table, ok: set, pos: int, dim, parent) -> list:
    """The distinct sets of open choices of the table's ``pos``-th dimension, over every prefix of the rows
    whose canonical value is in ``ok``."""
    if table.full and len(ok) == len(table.values):
        values = dim.values(parent)
        return [values if dim.categorical else None]
    by_prefix: dict = {}
    for raw, canonical in table.rows:
        if canonical in ok:
            by_prefix.setdefault(raw[:pos], {})[raw[pos]] = None
    return list(dict.fromkeys(tuple(v) for v in by_prefix.values()))

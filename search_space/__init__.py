"""The declarative search space: ArchConfig (one architecture as data), SearchSpace (sets of them) and
build_model (ArchConfig -> nn.Module), with registries of backbones and attention modules."""
from .errors import AttnasError
from .registry import ATTENTION, BACKBONES, CONNECTIONS, GATINGS
from . import attention, backbones, connections, gatings  # noqa: F401  (fills the registries)
from .arch_config import ArchConfig, Component, load_arch
from .build import BuildContext, build_model
from .shapes import check_fits
from .space import SearchSpace

__all__ = ["AttnasError", "ArchConfig", "Component", "load_arch", "build_model", "check_fits",
           "BuildContext", "SearchSpace", "ATTENTION", "BACKBONES", "CONNECTIONS", "GATINGS"]

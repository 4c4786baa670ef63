"""The benchmark scripts are not a package: their folder goes on ``sys.path`` once, so the tests (and the
recorder's spawned workers) import them by name, e.g. ``import record_search_pool``."""
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

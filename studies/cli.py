"""The ``attnas`` command. Each subcommand is one file in ``studies/commands/`` defining ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; user errors (AttnasError) print as one line, exit 2."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from search_space.errors import AttnasError

from . import commands


def _commands():
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(mod, "run"):
            yield mod


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attnas", description="Architecture search for attention-augmented CNNs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _commands():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except AttnasError as e:
        print(f"attnas {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"attnas {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``pyscep`` command: ``demo``, ``inspect``, ``lint``, ``policy``, ``serve``, ``client``,
``monitor``, ``conformance``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from pyscep.cli import client, conformance, demo, inspect, lint, monitor, policy, serve

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The ``pyscep`` command line (the docs' CLI reference is printed from it)."""
    parser = argparse.ArgumentParser(prog="pyscep", description=__doc__)
    commands = parser.add_subparsers(
        dest="command", required=True, help="the command (each has --help)"
    )
    demo.add_parser(commands)
    inspect.add_parser(commands)
    lint.add_parser(commands)
    policy.add_parser(commands)
    serve.add_parser(commands)
    client.add_parser(commands)
    monitor.add_parser(commands)
    conformance.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pyscep`` command."""
    args = parser().parse_args(argv)
    return int(args.handler(args))

"""``pyscep monitor``: the certificate lifecycle agent (configuration and status).

    pyscep monitor status --config monitor.toml [--now ISO8601] [--json]
    pyscep monitor run --config monitor.toml [--now ISO8601] [--json]

The configuration lists keystores (TOML, ``[[keystore]]`` tables); paths are
relative to the configuration file. ``status`` prints, for each keystore,
its subject, notAfter, renewal state (NOT_DUE / DUE / OVERDUE / EXPIRED, or
PENDING when a renewal awaits the CA) and when the next action is due, as a
table or ``--json``. The decision is `pyscep.policy.check_renewal`; the agent is `pyscep.monitor`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from pyscep._appkit.clock import now_or
from pyscep._deprecation import moved
from pyscep.errors import ScepError
from pyscep.monitor import EXIT_FAILED, EXIT_PENDING, Outcome, renew_all
from pyscep.monitor import status as keystore_status

__all__ = ["add_parser", "run"]

#: The application names this module exposed before 0.2 (now in `pyscep.monitor`).
_MOVED = frozenset({"KeystoreConfig", "MonitorConfigError", "load_config", "status"})


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        return moved(__name__, "pyscep.monitor", name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_CONFIG_HELP = "the monitor's TOML configuration (its [[keystore]] tables)"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``monitor``."""
    monitor = commands.add_parser(
        "monitor",
        help="the certificate lifecycle agent",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = monitor.add_subparsers(dest="action", required=True, help="what to do")
    show = actions.add_parser("status", help="where each keystore stands")
    show.add_argument("--config", type=Path, required=True, help=_CONFIG_HELP)
    show.add_argument("--now", help="ISO 8601 time to judge at (default: now)")
    show.add_argument("--json", action="store_true", help="print the rows as JSON")
    show.set_defaults(handler=run)
    renew = actions.add_parser("run", help="renew the keystores that are due")
    renew.add_argument("--config", type=Path, required=True, help=_CONFIG_HELP)
    renew.add_argument("--now", help="ISO 8601 time to judge at (default: now)")
    renew.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    renew.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """``monitor status`` and ``monitor run``."""
    try:
        now = now_or(args.now)
    except ValueError as exc:
        print(f"pyscep monitor: {exc}", file=sys.stderr)
        return 2
    if args.action == "run":
        return _run(args.config, now, as_json=args.json)
    try:
        rows = keystore_status(args.config, now)
    except (OSError, ScepError) as exc:
        print(f"pyscep monitor: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        when = row.get("when") or "-"
        print(
            f"{row['name']:<16} {row['state']:<8} {row.get('not_after', '-'):<26} "
            f"{row['action']} ({when})"
        )
    return 0


def _run(config: Path, now: datetime, *, as_json: bool) -> int:
    """``monitor run``: 0 nothing to do or all renewed, 3 something pending, 1 a failure."""

    def progress(outcome: Outcome) -> None:
        print(f"{outcome.name:<16} {outcome.result:<14} {outcome.detail}", flush=True)

    try:
        outcomes = renew_all(config, now, report=None if as_json else progress)
    except (OSError, ScepError) as exc:
        print(f"pyscep monitor: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps([o.__dict__ for o in outcomes], indent=2))
    results = {o.result for o in outcomes}
    if results & {"failed", "expired"}:
        return EXIT_FAILED
    return EXIT_PENDING if "pending" in results else 0

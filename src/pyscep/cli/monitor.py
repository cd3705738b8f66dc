"""``pyscep monitor``: the certificate lifecycle agent (configuration and status).

    pyscep monitor status --config monitor.toml [--now ISO8601] [--json]
    pyscep monitor run --config monitor.toml [--now ISO8601] [--json]

The configuration lists keystores (TOML, ``[[keystore]]`` tables); paths are
relative to the configuration file. ``status`` prints, for each keystore,
its subject, notAfter, renewal state (NOT_DUE / DUE / OVERDUE / EXPIRED, or
PENDING when a renewal awaits the CA) and when the next action is due, as a
table or ``--json``. The decision is `pyscep.policy.check_renewal`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from pyscep.errors import ScepError
from pyscep.policy import check_renewal

from .clock import now_or
from .durable import Directories
from .monitor_config import KeystoreConfig, MonitorConfigError, load_config
from .monitor_keystores import keystore_for
from .monitor_state import MonitorState

__all__ = ["KeystoreConfig", "MonitorConfigError", "add_parser", "load_config", "run", "status"]


def status(config: Path, now: datetime) -> list[dict[str, Any]]:
    """One row per keystore: name, subject, notAfter, state, next action and when."""
    keystores = load_config(config)
    with Directories() as directories:
        state = MonitorState(config, directories.of(config)[0])
        return [_row(keystore, state, now, directories) for keystore in keystores]


def _row(
    keystore: KeystoreConfig, state: MonitorState, now: datetime, directories: Directories
) -> dict[str, Any]:
    row: dict[str, Any] = {"name": keystore.name}
    try:
        _, certificate = keystore_for(keystore, directories).read()
    except (OSError, ScepError, ValueError) as exc:
        row.update(state="FAILED", action="fix the keystore", detail=str(exc)[:200])
        return row
    check = check_renewal(certificate, keystore.thresholds, now=now)
    row.update(subject=certificate.subject, not_after=certificate.not_valid_after.isoformat())
    if keystore.name in state["swaps"]:
        row.update(
            state="PENDING",
            action="finish the interrupted swap (monitor run)",
            when=now.isoformat(),
        )
    elif keystore.name in state["pending"]:
        poll_at = state["pending"][keystore.name].get("poll_at") or now.isoformat()
        row.update(state="PENDING", action="poll the CA (monitor run)", when=poll_at)
    elif check.state.name == "NOT_DUE":
        row.update(state="NOT_DUE", action="renew", when=check.renew_at.isoformat())
    elif check.state.name == "EXPIRED":
        row.update(
            state="EXPIRED",
            action="enroll again with a challenge (an expired certificate cannot sign)",
            when=None,
        )
    else:
        row.update(state=check.state.name, action="renew", when=now.isoformat())
    return row


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``monitor``."""
    monitor = commands.add_parser(
        "monitor",
        help="the certificate lifecycle agent",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = monitor.add_subparsers(dest="action", required=True)
    show = actions.add_parser("status", help="where each keystore stands")
    show.add_argument("--config", type=Path, required=True)
    show.add_argument("--now", help="ISO 8601 time to judge at (default: now)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run)
    renew = actions.add_parser("run", help="renew the keystores that are due")
    renew.add_argument("--config", type=Path, required=True)
    renew.add_argument("--now", help="ISO 8601 time to judge at (default: now)")
    renew.add_argument("--json", action="store_true")
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
        rows = status(args.config, now)
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
    from .monitor_run import EXIT_FAILED, EXIT_PENDING, Outcome, renew_all

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

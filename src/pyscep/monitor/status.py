"""Where each keystore of a monitor configuration stands: subject, notAfter, renewal
state (NOT_DUE / DUE / OVERDUE / EXPIRED, or PENDING when a renewal awaits the CA)
and when the next action is due. The decision is `pyscep.policy.check_renewal`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pyscep._appkit.durable import Directories
from pyscep.errors import ScepError
from pyscep.policy import check_renewal

from .config import KeystoreConfig, load_config
from .keystores import keystore_for
from .state import MonitorState

__all__ = ["status"]


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

"""Conformance testing of other SCEP implementations (issue 26).

`check_server` drives a live SCEP server through RFC 8894's requirements and
the attacks SCEP servers have fallen to, and returns a `Scorecard`
(``pyscep conformance server URL``); `check_client` runs a SCEP client
against an honest server and hostile ones (``pyscep conformance client``).
docs/conformance.md lists every check and its source. An application: it
does its own I/O, over HTTP or through any `Transport`, and runs the
client under test.
"""

from __future__ import annotations

from pyscep.conformance.client import (
    CLIENT_CHECKS,
    CLIENT_COMMANDS,
    Answer,
    check_client,
    command_runner,
)
from pyscep.conformance.probe import (
    ServerUnreachableError,
    Transport,
    http_transport,
    in_process_transport,
)
from pyscep.conformance.scorecard import CheckInfo, CheckResult, FindingSeverity, Outcome, Scorecard
from pyscep.conformance.server import CHECKS, ServerCheckOptions, check_server

__all__ = [
    "CHECKS",
    "CLIENT_CHECKS",
    "CLIENT_COMMANDS",
    "Answer",
    "CheckInfo",
    "CheckResult",
    "FindingSeverity",
    "Outcome",
    "Scorecard",
    "ServerCheckOptions",
    "ServerUnreachableError",
    "Transport",
    "check_client",
    "check_server",
    "command_runner",
    "http_transport",
    "in_process_transport",
]

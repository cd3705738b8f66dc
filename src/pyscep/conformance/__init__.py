"""Conformance testing of other SCEP implementations (issue 26).

`check_server` drives a live SCEP server through RFC 8894's requirements and
the attacks SCEP servers have fallen to, and returns a `Scorecard`
(``pyscep conformance server URL``; docs/conformance.md lists every check
and its source). An application: it does its own I/O, over HTTP or through
any `Transport`.
"""

from __future__ import annotations

from pyscep.conformance.probe import (
    ServerUnreachableError,
    Transport,
    http_transport,
    in_process_transport,
)
from pyscep.conformance.scorecard import CheckInfo, CheckResult, Outcome, Scorecard, Severity
from pyscep.conformance.server import CHECKS, ServerCheckOptions, check_server

__all__ = [
    "CHECKS",
    "CheckInfo",
    "CheckResult",
    "Outcome",
    "Scorecard",
    "ServerCheckOptions",
    "ServerUnreachableError",
    "Severity",
    "Transport",
    "check_server",
    "http_transport",
    "in_process_transport",
]

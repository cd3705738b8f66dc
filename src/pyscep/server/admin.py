"""The operator's port: ``/healthz``, ``/readyz`` and ``/metrics`` (``pyscep serve --admin-port``).

- ``/healthz``: 200 while the process answers;
- ``/readyz``: 200 when the state store answers and the CA key (and the RA key)
  signs (an HSM's token is reachable), else 503 with what is wrong, a line each;
- ``/metrics``: `ServerMetrics` in Prometheus' text format.

It listens on 127.0.0.1 by default: keep it off the network clients reach.
"""

from __future__ import annotations

from pyscep.algorithms import DigestAlgorithm
from pyscep.cms.signed import default_scheme
from pyscep.errors import ScepError
from pyscep.http import HTTPResponse

from .app import ReferenceServer
from .config import ServeConfigError
from .metrics import ServerMetrics

__all__ = ["AdminApplication"]


class AdminApplication:
    """Health, readiness and metrics of one `ReferenceServer`, as an HTTP handler."""

    def __init__(self, server: ReferenceServer) -> None:
        if server.metrics is None:
            raise ServeConfigError(
                "the admin port serves metrics: pip install 'pyscep-sansio[server]'"
            )
        self.server = server
        self.metrics: ServerMetrics = server.metrics

    def problems(self) -> list[str]:
        """What keeps the server from answering enrollments now (nothing: it is ready)."""
        found = []
        try:
            self.server.store.counts()
        except ScepError as exc:
            found.append(f"the state store: {exc}")
        files = self.server.files
        for role, pair in (("CA", files.ca), ("RA", files.ra)):
            if pair is None:
                continue
            try:
                scheme = default_scheme(pair.certificate)
                pair.sign(b"pyscep readiness probe", DigestAlgorithm.SHA256, scheme)
            except ScepError as exc:
                found.append(f"the {role} key: {exc}")
        return found

    def handle(self, method: str, path: str, query: str, body: bytes) -> HTTPResponse:
        """One request to the admin port."""
        if method not in ("GET", "HEAD"):
            return HTTPResponse(405, "text/plain", b"GET only\n")
        if path == "/healthz":
            return HTTPResponse(200, "text/plain", b"ok\n")
        if path == "/readyz":
            problems = self.problems()
            if problems:
                text = "".join(f"not ready: {problem}\n" for problem in problems)
                return HTTPResponse(503, "text/plain", text.encode())
            return HTTPResponse(200, "text/plain", b"ready\n")
        if path == "/metrics":
            content_type, exposition = self.metrics.exposition()
            return HTTPResponse(200, content_type, exposition)
        return HTTPResponse(404, "text/plain", b"/healthz, /readyz or /metrics\n")

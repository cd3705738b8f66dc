"""A CA that issues whatever certificate a test wants: in memory, or over loopback HTTP.

It answers GetCACaps, GetCACert and PKIOperation (PKCSReq, RenewalReq) the
way a real CA does (the CertRep is signed by its CA or RA and echoes the
request's nonce), but the certificate it puts in the CertRep SUCCESS is
``issue(csr)``: for another key, another subject, signed by another CA,
expired... (or PENDING, with ``pending``). Every CSR received is kept in
``requests``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pyscep import Certificate
from pyscep.http import HTTPRequest
from pyscep.messages import (
    CertificationRequest,
    build_ca_certificates,
    build_cert_rep_pending,
    build_cert_rep_success,
    open_request,
)
from pyscep.testing import DemoIdentity
from tests.support.helpers import pem_cert, pem_key

__all__ = ["HostileCA", "monitor_keystore", "served"]

Answer = tuple[int, str, bytes]


@dataclass
class HostileCA:
    """A CA (``ca``, optionally behind an RA) that answers every request with ``issue(csr)``."""

    ca: DemoIdentity
    issue: Callable[[CertificationRequest], Certificate]
    ra: DemoIdentity | None = None
    caps: bytes = b"POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\nRenewal\n"
    #: Answer PENDING instead of issuing.
    pending: bool = False
    requests: list[CertificationRequest] = field(default_factory=list)

    def answer(self, target: str, body: bytes) -> Answer:
        """The response to a request for ``target`` (path and query) with ``body``."""
        operation = parse_qs(urlsplit(target).query).get("operation", [""])[0]
        if operation == "GetCACaps":
            return 200, "text/plain", self.caps
        if operation == "GetCACert":
            ras = [self.ra.certificate] if self.ra is not None else []
            certificates, content_type = build_ca_certificates(self.ca.certificate, ras)
            return 200, content_type, certificates
        if operation == "PKIOperation":
            replier = self.ra or self.ca
            message, content = open_request(body, replier.decrypter)
            assert isinstance(content, CertificationRequest)
            self.requests.append(content)
            if self.pending:
                reply = build_cert_rep_pending(message, signer=replier.signer)
            else:
                issued = self.issue(content)
                reply = build_cert_rep_success(message, [issued], signer=replier.signer)
            return 200, "application/x-pki-message", reply
        return 404, "text/plain", b"no such operation"

    def send(self, request: HTTPRequest) -> Answer:
        """What an HTTP transport to this CA returns for ``request``."""
        return self.answer(request.target, request.body)

    @classmethod
    def honest(cls, ca: DemoIdentity, now: datetime, *, pending: bool = False) -> HostileCA:
        """A CA that issues what it is asked for (at ``now``)."""
        return cls(ca, lambda csr: ca.issue(csr, now=now), pending=pending)


def monitor_keystore(
    directory: Path, *, key: DemoIdentity, certificate: Certificate, ca: Certificate, url: str
) -> Path:
    """A PEM keystore ``web`` in ``directory`` (renewed 30 days ahead) and its configuration."""
    (directory / "web.key").write_bytes(pem_key(key))
    (directory / "web.crt").write_bytes(pem_cert(certificate))
    (directory / "ca.crt").write_bytes(pem_cert(ca))
    config = directory / "monitor.toml"
    config.write_text(
        '[[keystore]]\nname = "web"\nformat = "pem"\nkey = "web.key"\ncertificate = "web.crt"\n'
        f'url = "{url}"\nca_certificate = "ca.crt"\nrenew_before_days = 30\n'
    )
    return config


@contextmanager
def served(answer: Callable[[str, bytes], Answer]) -> Iterator[str]:
    """``answer`` behind an HTTP server on loopback, for as long as the block lasts: its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(answer(self.path, b""))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._reply(answer(self.path, body))

        def _reply(self, response: Answer) -> None:
            status, content_type, body = response
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests say what went wrong."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/scep"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)

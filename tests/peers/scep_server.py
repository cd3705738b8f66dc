"""A minimal SCEP server over pyscep, for interop tests only (stdlib HTTP, loopback).

It answers GetCACaps, GetCACert and PKIOperation (PKCSReq, RenewalReq,
CertPoll). With ``pending_first`` it answers the first PKCSReq of each
transaction with PENDING and issues on the following CertPoll.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from pyscep import (
    LEGACY,
    Certificate,
    FailInfo,
    MessageType,
    ScepError,
    load_decrypter,
    load_signer,
)
from pyscep.http import decode_get_message, query_parameter
from pyscep.messages.build import (
    build_cert_rep_failure,
    build_cert_rep_pending,
    build_cert_rep_success,
)
from pyscep.messages.ca import build_ca_certificates
from pyscep.messages.caps import CACaps
from pyscep.messages.content import CertificationRequest
from pyscep.messages.pkimessage import open_request
from pyscep.testing import DemoIdentity

CAPS = CACaps.of(
    [
        "AES",
        "DES3",
        "SHA-1",
        "SHA-256",
        "SHA-384",
        "SHA-512",
        "POSTPKIOperation",
        "Renewal",
        "SCEPStandard",
    ]
)


class ScepTestServer:
    """Issue certificates for requests carrying the right challenge (or renewals)."""

    def __init__(self, ca: DemoIdentity, challenge: str, *, pending_first: bool = False) -> None:
        self.ca = ca
        self.challenge = challenge
        self.pending_first = pending_first
        self.signer = load_signer(ca.key_der, ca.certificate)
        self.decrypter = load_decrypter(ca.key_der, ca.certificate)
        self.pending: dict[str, CertificationRequest] = {}
        self.log: list[str] = []

    def issue(self, request: CertificationRequest) -> Certificate:
        csr = x509.load_der_x509_csr(request.der)
        now = datetime.now(timezone.utc)
        key = serialization.load_der_private_key(self.ca.key_der, None)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.ca.certificate.to_cryptography().subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(key, hashes.SHA256())  # type: ignore[arg-type]
        )
        return Certificate.load(cert)

    def pki_operation(self, body: bytes) -> bytes:
        # The legacy opt-in is stated once: decrypting and every reply follow it.
        try:
            message, content = open_request(body, self.decrypter, algorithms=LEGACY)
        except ScepError as exc:
            self.log.append(f"refused: {exc}")
            if exc.reply_to is None:
                raise
            failure = exc.fail_info if exc.fail_info is not None else FailInfo.BAD_REQUEST
            return build_cert_rep_failure(exc.reply_to, failure, signer=self.signer)
        kind = message.message_type
        self.log.append(
            f"{kind.rfc_name} {message.digest.value} {message.content_cipher}"
            f" {message.signature_algorithm}"
        )
        txid = message.transaction_id or ""
        if kind is MessageType.CERT_POLL:
            request = self.pending.pop(txid, None)
            if request is None:
                return build_cert_rep_failure(message, FailInfo.BAD_CERT_ID, signer=self.signer)
            return build_cert_rep_success(message, [self.issue(request)], signer=self.signer)
        if not isinstance(content, CertificationRequest):
            return build_cert_rep_failure(message, FailInfo.BAD_REQUEST, signer=self.signer)
        renewal = message.signer_certificate.issuer == self.ca.certificate.subject
        if not renewal and content.challenge_password != self.challenge:
            return build_cert_rep_failure(
                message, FailInfo.BAD_REQUEST, "challenge", signer=self.signer
            )
        if self.pending_first and kind is MessageType.PKCS_REQ and txid not in self.pending:
            self.pending[txid] = content
            return build_cert_rep_pending(message, signer=self.signer)
        return build_cert_rep_success(message, [self.issue(content)], signer=self.signer)

    def serve(self, port: int) -> ThreadingHTTPServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def _answer(self, body: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _operation(self, body: bytes | None) -> None:
                query = urlsplit(self.path).query
                operation = query_parameter(query, "operation")
                try:
                    if operation == "GetCACaps":
                        self._answer(CAPS.dump(), "text/plain")
                    elif operation == "GetCACert":
                        der, content_type = build_ca_certificates(server.ca.certificate)
                        self._answer(der, content_type)
                    elif operation == "PKIOperation":
                        if body is None:
                            body = decode_get_message(query_parameter(query, "message") or "")
                        self._answer(server.pki_operation(body), "application/x-pki-message")
                    else:
                        self.send_error(404)
                except ScepError as exc:
                    server.log.append(f"HTTP 400: {exc}")
                    self.send_error(400)

            def do_GET(self) -> None:
                self._operation(None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                self._operation(self.rfile.read(length))

        httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return httpd

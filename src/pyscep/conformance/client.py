"""``pyscep conformance client``: a SCEP client scored against honest and hostile servers.

The client under test enrolls once per scenario against a scripted server on
loopback (`ScriptedServer`): first an honest one, then servers that answer
with a certificate for another key or subject, a CertRep the CA did not
sign, a recipientNonce or transactionID not echoed, single DES, endless
PENDING, a body that is no pkiMessage, a rollover CA (GetNextCACert) that
nobody signed. A client accepts a scenario when its
command exits 0; accepting any hostile one is a failure. The command is any
argument list in which ``{url}``, ``{challenge}`` and ``{dir}`` (a fresh
directory per scenario) are replaced, or a ready one (`CLIENT_COMMANDS`).
"""

from __future__ import annotations

import enum
import os
import secrets
import selectors
import shlex
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from pyscep.algorithms import LEGACY, ContentCipher, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import build_certs_only
from pyscep.conformance.probe import Probe
from pyscep.conformance.scorecard import CheckInfo, CheckResult, FindingSeverity, Outcome, Scorecard
from pyscep.crypto import KeyPair
from pyscep.enums import CACapability, FailInfo
from pyscep.errors import ScepError
from pyscep.http import CONTENT_TYPE_NEXT_CA_CERT, HTTPResponse, Operation, read_request
from pyscep.messages import (
    CACaps,
    CertificationRequest,
    MessageOptions,
    PKIMessage,
    ReplyTo,
    build_ca_certificates,
    build_cert_rep_failure,
    build_cert_rep_pending,
    build_cert_rep_success,
    build_csr,
    issue_certificate,
    new_nonce,
    open_request,
    self_signed_certificate,
)
from pyscep.protocol.profiles import STRICT
from pyscep.wsgi import Handler, wsgi_application

__all__ = [
    "CLIENT_CHECKS",
    "CLIENT_COMMANDS",
    "Answer",
    "ClientRunner",
    "ScriptedServer",
    "check_client",
    "command_runner",
    "serving",
]

PKI_MESSAGE = "application/x-pki-message"


class Answer(enum.Enum):
    """What a scripted server answers a PKCSReq with."""

    HONEST = "honest"
    OTHER_KEY = "other-key"
    OTHER_SUBJECT = "other-subject"
    ISSUED_BY_STRANGER = "issued-by-stranger"
    SIGNED_BY_STRANGER = "signed-by-stranger"
    WRONG_RECIPIENT_NONCE = "wrong-recipient-nonce"
    WRONG_TRANSACTION_ID = "wrong-transaction-id"
    DES_REPLY = "des-reply"
    ENDLESS_PENDING = "endless-pending"
    MALFORMED = "malformed"
    UNSIGNED_ROLLOVER = "unsigned-rollover"


_H, _M = FindingSeverity.HIGH, FindingSeverity.MEDIUM

#: Scenario -> its check: what the client must do, where the rule comes from, how bad.
CLIENT_CHECKS: dict[Answer, CheckInfo] = {
    Answer.HONEST: CheckInfo(
        "client.honest",
        "enrolls against an honest server",
        "RFC 8894 3.3.1, 3.3.2",
        FindingSeverity.CRITICAL,
    ),
    Answer.OTHER_KEY: CheckInfo(
        "client.other-key",
        "refuses a certificate for another key",
        "RFC 8894 3.3.2.1; catalog 82",
        _H,
    ),
    Answer.OTHER_SUBJECT: CheckInfo(
        "client.other-subject",
        "refuses a certificate for another subject",
        "catalog 82",
        _M,
    ),
    Answer.ISSUED_BY_STRANGER: CheckInfo(
        "client.issued-by-stranger",
        "refuses a certificate the CA of GetCACert did not sign",
        "RFC 8894 3.3.2.1; catalog 82",
        _H,
    ),
    Answer.SIGNED_BY_STRANGER: CheckInfo(
        "client.reply-signer",
        "refuses a CertRep not signed by the CA or RA of GetCACert",
        "RFC 8894 3.1, 3.3.2; catalog 79",
        _H,
    ),
    Answer.WRONG_RECIPIENT_NONCE: CheckInfo(
        "client.recipient-nonce",
        "refuses a CertRep whose recipientNonce is not its senderNonce",
        "RFC 8894 3.2.1.5; catalog 80",
        _M,
    ),
    Answer.WRONG_TRANSACTION_ID: CheckInfo(
        "client.transaction-id",
        "refuses a CertRep for another transactionID",
        "RFC 8894 3.2.1.1; catalog 80",
        _M,
    ),
    Answer.DES_REPLY: CheckInfo(
        "client.des-reply",
        "refuses a reply enveloped with single DES and signed with MD5",
        "RFC 8894 2.9; dogtagpki/pki#541 (S14); catalog 83",
        _M,
    ),
    Answer.ENDLESS_PENDING: CheckInfo(
        "client.pending",
        "does not report success while the request is PENDING",
        "RFC 8894 3.3.2.3, 3.3.3",
        _H,
    ),
    Answer.MALFORMED: CheckInfo(
        "client.malformed-reply",
        "refuses a reply that is no pkiMessage",
        "catalog 81; micromdm/scep#37 (S4)",
        _M,
    ),
    Answer.UNSIGNED_ROLLOVER: CheckInfo(
        "client.unsigned-rollover",
        "refuses a GetNextCACert rollover CA the current CA did not sign",
        "RFC 8894 4.7, 3.5.2",
        _H,
    ),
}

#: Ready commands for clients found on PATH (``--client NAME``).
CLIENT_COMMANDS: Mapping[str, tuple[str, ...]] = {
    "pyscep": (
        sys.executable,
        "-m",
        "pyscep",
        "client",
        "enroll",
        "{url}",
        "--subject",
        "CN=pyscep-conformance-client",
        "--challenge",
        "{challenge}",
        "--key-out",
        "{dir}/client.key",
        "--cert-out",
        "{dir}/client.pem",
    ),
    "scepclient": (
        "scepclient",
        "-server-url",
        "{url}",
        "-private-key",
        "{dir}/client.key",
        "-certificate",
        "{dir}/client.pem",
        "-challenge",
        "{challenge}",
        "-cn",
        "pyscep-conformance-client",
        "-organization",
        "pyscep",
    ),
    "strongswan": (
        "sh",
        "-c",
        "pki --scepca --url {url} --caout {dir}/ca.der"
        " && pki --gen --type rsa --size 2048 --outform der > {dir}/client.key"
        " && pki --scep --url {url} --in {dir}/client.key"
        " --dn 'CN=pyscep-conformance-client' --password {challenge}"
        " --cacert-enc {dir}/ca.der --cacert-sig {dir}/ca.der --outform pem > {dir}/client.pem",
    ),
    # A private certmonger daemon per scenario (`pyscep.conformance.certmonger`).
    "certmonger": (
        sys.executable,
        "-m",
        "pyscep.conformance.certmonger",
        "{url}",
        "{challenge}",
        "{dir}",
    ),
}

#: Runs the client under test once: (server URL, challenge, fresh directory) -> exit
#: status, and what it printed last (None for the status: it was still running at its time
#: limit, and was stopped).
ClientRunner = Callable[[str, str, Path], tuple[int | None, str]]


def _new_pair(subject: str, *, ca: bool) -> KeyPair:
    key = Probe.new_key()
    now = datetime.now(timezone.utc)
    return KeyPair(key, self_signed_certificate(key, subject, now=now, days=2, ca=ca))


@dataclass
class ScriptedServer:
    """The SCEP server of one scenario: honest GetCACaps and GetCACert, then ``answer``.

    ``delivered`` counts the CertReps SUCCESS it sent; ``requests`` the pkiMessages it read;
    ``next_ca_asked`` the GetNextCACert requests it answered. ``next_ca`` is the rollover CA
    of `Answer.UNSIGNED_ROLLOVER`: advertised (GetNextCACert), served in a SignedData
    without signers, and the issuer of that scenario's certificate, so that only a client
    that took the rollover CA accepts it.
    """

    answer: Answer
    ca: KeyPair
    stranger: KeyPair
    next_ca: KeyPair | None = None
    delivered: int = 0
    requests: int = 0
    next_ca_asked: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def handle(self, method: str, path: str, query: str, body: bytes) -> HTTPResponse:
        """One HTTP request of the client under test."""
        try:
            incoming = read_request(method, path, query, body)
        except ScepError as exc:
            return HTTPResponse(400, "text/plain", str(exc).encode())
        rollover = self.answer is Answer.UNSIGNED_ROLLOVER and self.next_ca is not None
        if incoming.operation is Operation.GET_CA_CAPS:
            caps = STRICT.advertised_caps
            if rollover:
                caps = CACaps.of([*caps.keywords, CACapability.GET_NEXT_CA_CERT])
            return HTTPResponse(200, "text/plain", caps.dump())
        if incoming.operation is Operation.GET_CA_CERT:
            certificates, content_type = build_ca_certificates(self.ca.certificate)
            return HTTPResponse(200, content_type, certificates)
        if incoming.operation is Operation.GET_NEXT_CA_CERT and rollover:
            assert self.next_ca is not None
            with self._lock:
                self.next_ca_asked += 1
            # A degenerate SignedData: the next CA's certificate, signed by nobody.
            unsigned = build_certs_only([self.next_ca.certificate])
            return HTTPResponse(200, CONTENT_TYPE_NEXT_CA_CERT, unsigned)
        if incoming.operation is not Operation.PKI_OPERATION or incoming.message is None:
            return HTTPResponse(404, "text/plain", b"no such operation")
        with self._lock:
            self.requests += 1
        if self.answer is Answer.MALFORMED:
            return HTTPResponse(200, PKI_MESSAGE, secrets.token_bytes(512))
        try:
            message, content = open_request(incoming.message, self.ca, algorithms=LEGACY)
        except ScepError as exc:
            return HTTPResponse(400, "text/plain", str(exc).encode())
        return HTTPResponse(200, PKI_MESSAGE, self._cert_rep(message, content))

    def _cert_rep(self, message: PKIMessage, content: object) -> bytes:
        if self.answer is Answer.ENDLESS_PENDING:
            return build_cert_rep_pending(message, signer=self.ca)
        if not isinstance(content, CertificationRequest):  # a poll: nothing is pending
            return build_cert_rep_failure(message, FailInfo.BAD_REQUEST, signer=self.ca)
        reply_to = ReplyTo.of(message)
        signer, options = self.ca, MessageOptions()
        issued = self._certificate(content)
        if self.answer is Answer.SIGNED_BY_STRANGER:
            signer = self.stranger
        elif self.answer is Answer.WRONG_RECIPIENT_NONCE:
            reply_to = replace(reply_to, sender_nonce=new_nonce())
        elif self.answer is Answer.WRONG_TRANSACTION_ID:
            reply_to = replace(reply_to, transaction_id=secrets.token_hex(32).upper())
        elif self.answer is Answer.DES_REPLY:
            options = MessageOptions(
                cipher=ContentCipher.DES_CBC, digest=DigestAlgorithm.MD5, algorithms=LEGACY
            )
        with self._lock:
            self.delivered += 1
        return build_cert_rep_success(reply_to, [issued], signer=signer, options=options)

    def _certificate(self, csr: CertificationRequest) -> Certificate:
        """The certificate of the scenario for ``csr``."""
        now = datetime.now(timezone.utc)  # the client judges it by its own clock
        serial = secrets.randbits(63) | 1
        if self.answer is Answer.OTHER_KEY:
            other = Probe.new_key()
            csr = build_csr(other, csr.subject_der)
        if self.answer is Answer.ISSUED_BY_STRANGER:
            return issue_certificate(self.stranger, csr, now=now, days=30, serial_number=serial)
        if self.answer is Answer.UNSIGNED_ROLLOVER and self.next_ca is not None:
            return issue_certificate(self.next_ca, csr, now=now, days=30, serial_number=serial)
        subject = "CN=pyscep-conformance-intruder" if self.answer is Answer.OTHER_SUBJECT else None
        return issue_certificate(
            self.ca, csr, now=now, days=30, serial_number=serial, subject=subject
        )


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        del format, args


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


@contextmanager
def serving(handle: Handler) -> Iterator[str]:
    """A SCEP server's ``handle`` on a free loopback port, behind pyscep's WSGI adapter
    (which refuses a body over 1 MiB); yields its URL."""
    httpd = make_server(
        "127.0.0.1",
        0,
        wsgi_application(handle),
        server_class=_ThreadingServer,
        handler_class=_Quiet,
    )
    # A short poll interval: shutdown() waits for it, once per scenario.
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/scep"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


#: The shells whose ``-c`` script gets each substituted value quoted.
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
#: What is kept of a client's output (its end: the last line is the evidence).
OUTPUT_TAIL = 64 << 10
#: Seconds given, after the client ended or was stopped, for its output to end (a daemon it
#: left behind may hold the pipe open forever).
_DRAIN_GRACE = 1.0


def _script_index(command: Sequence[str]) -> int | None:
    """The index of the script of a shell's ``-c`` form (``sh -c``, ``/bin/bash -lc``...)."""
    if not command or Path(command[0]).name not in _SHELLS:
        return None
    for index, part in enumerate(command[1:], start=1):
        if not part.startswith("-") or part == "--":
            return None
        if "c" in part[1:] and not part.startswith("--"):
            return index + 1 if index + 1 < len(command) else None
    return None


def command_runner(command: Sequence[str], *, timeout: float) -> ClientRunner:
    """Run ``command`` with ``{url}``, ``{challenge}`` and ``{dir}`` replaced, in the
    directory, its whole process group stopped after ``timeout`` seconds.

    In a shell's ``-c`` script each value is quoted; elsewhere it is one argument as is.
    Only the last `OUTPUT_TAIL` bytes of what the client prints are kept.
    """
    script = _script_index(command)

    def run(url: str, challenge: str, directory: Path) -> tuple[int | None, str]:
        values = {"{url}": url, "{challenge}": challenge, "{dir}": str(directory)}
        argv = []
        for index, part in enumerate(command):
            for name, value in values.items():
                part = part.replace(name, shlex.quote(value) if index == script else value)
            argv.append(part)
        status, output = _run_bounded(argv, directory, timeout)
        return status, _last_line(output)

    return run


def _run_bounded(argv: Sequence[str], directory: Path, timeout: float) -> tuple[int | None, bytes]:
    """Run ``argv``; (its exit status, or None when it did not end within ``timeout``;
    the tail of its output). Its process group is killed in any case; the output is
    read until it ends, at most `_DRAIN_GRACE` seconds past the client's end."""
    process = subprocess.Popen(
        argv,
        cwd=directory,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    tail = bytearray()
    with process.stdout, selectors.DefaultSelector() as selector:
        pipe = process.stdout.fileno()
        os.set_blocking(pipe, False)
        selector.register(pipe, selectors.EVENT_READ)
        ended_at: float | None = None
        while True:
            now = time.monotonic()
            if ended_at is None and process.poll() is not None:
                ended_at = now
            limit = deadline if ended_at is None else ended_at + _DRAIN_GRACE
            if now >= limit:
                break
            if selector.select(min(limit - now, 0.1)) and not _drained(pipe, tail):
                break  # the end of the output: everyone holding the pipe closed it
        status = process.poll()
        if status is None:
            try:
                status = process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                status = None
        _stop_group(process.pid)
        if status is None:
            process.wait()
        if ended_at is None or status is None:  # what it printed while it was stopped
            grace = time.monotonic() + _DRAIN_GRACE
            while time.monotonic() < grace and selector.select(0.05):
                if not _drained(pipe, tail):
                    break
    return status, bytes(tail)


def _drained(pipe: int, tail: bytearray) -> bool:
    """Read what ``pipe`` has into ``tail`` (its last `OUTPUT_TAIL` bytes); False at its end."""
    try:
        chunk = os.read(pipe, 1 << 16)
    except BlockingIOError:
        return True
    if not chunk:
        return False
    tail += chunk
    del tail[:-OUTPUT_TAIL]
    return True


def _stop_group(pid: int) -> None:
    """SIGKILL to the client's process group (what it left running; a daemon that left
    the group with setsid is out of reach)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _last_line(output: bytes) -> str:
    lines = [line for line in output.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(nothing printed)"


def check_client(
    runner: ClientRunner,
    *,
    target: str,
    answers: Sequence[Answer] = tuple(Answer),
    challenge: str | None = None,
    directory: Path | None = None,
) -> Scorecard:
    """Run the client once per scenario of ``answers`` (the honest one first) and score it.

    ``directory`` keeps each scenario's files (a temporary one by default).
    """
    challenge = challenge or f"conformance-{secrets.token_hex(6)}"
    ca = _new_pair("CN=pyscep conformance CA", ca=True)
    # The stranger has the CA's name: only its key tells it apart.
    stranger = _new_pair("CN=pyscep conformance CA", ca=True)
    # The rollover CA nobody signed: a new key under the CA's name, as a real rollover has.
    next_ca = _new_pair("CN=pyscep conformance CA", ca=True)
    ordered = [Answer.HONEST, *(a for a in answers if a is not Answer.HONEST)]
    results: list[CheckResult] = []
    with tempfile.TemporaryDirectory(prefix="pyscep-conformance-") as scratch:
        base = directory or Path(scratch)
        enrolls = True
        for answer in ordered:
            check = CLIENT_CHECKS[answer]
            if not enrolls:
                results.append(CheckResult(check, Outcome.SKIP, "the client did not enroll"))
                continue
            where = base / answer.value
            where.mkdir(parents=True, exist_ok=True)
            server = ScriptedServer(answer, ca, stranger, next_ca)
            with serving(server.handle) as url:
                status, said = runner(url, challenge, where)
            result = _judged(check, answer, server, status, said)
            enrolls = answer is not Answer.HONEST or result.outcome is Outcome.PASS
            results.append(result)
    return Scorecard(target, tuple(results))


def _judged(
    check: CheckInfo, answer: Answer, server: ScriptedServer, status: int | None, said: str
) -> CheckResult:
    ended = "stopped at the time limit" if status is None else f"exit {status}"
    evidence = f"{ended} after {server.requests} pkiMessage(s): {said}"
    if answer is Answer.HONEST:
        ok = status == 0 and server.delivered > 0
        return CheckResult(check, Outcome.PASS if ok else Outcome.FAIL, evidence)
    if answer is Answer.UNSIGNED_ROLLOVER and server.next_ca_asked == 0:
        # Only a client that fetched the rollover CA can have trusted it.
        return CheckResult(check, Outcome.SKIP, f"never asked GetNextCACert: {evidence}")
    if status == 0 and server.requests > 0:
        return CheckResult(check, Outcome.FAIL, f"accepted: {evidence}")
    if status is None and answer is Answer.ENDLESS_PENDING:
        evidence += " (still polling, as RFC 8894 3.3.3 allows)"
    return CheckResult(check, Outcome.PASS, evidence)

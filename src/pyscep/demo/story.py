"""The story ``pyscep demo`` tells: a certificate's whole life, through the real state machines.

Every message goes through `ScepClient` on one side and the reference
server's `ScepResponder` on the other (`pyscep.demo.transport`), and every
enrollment and renewal is decided by the scep.conf policy, whose trace the
transcript shows. `tell` returns the transcript as values; `pyscep.cli.demo`
prints it, writes it as JSON and saves the messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pyscep import KeyPair, load_private_key
from pyscep._appkit.keys import new_private_key, renewal_request
from pyscep.certificate import Certificate
from pyscep.crypto import PrivateKey
from pyscep.errors import ScepError
from pyscep.http import HTTPRequest, decode_get_message
from pyscep.messages import CACaps, build_csr, parse_pki_message
from pyscep.policy import RenewalThresholds, check_renewal
from pyscep.protocol.client import (
    CACertificatesReceived,
    CapabilitiesReceived,
    CertificateIssued,
    ClientEvent,
    NextCAReceived,
    ProtocolFailed,
    RequestPending,
    RequestRejected,
    ScepClient,
)
from pyscep.protocol.profiles import PROFILES

from .transport import DemoServer

__all__ = ["Exchange", "Step", "describe_message", "tell", "tell_post_quantum"]


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange: what the client sent and what the server answered."""

    operation: str
    method: str
    #: The pkiMessage sent (PKIOperation), else empty.
    request: bytes
    status: int
    content_type: str | None
    reply: bytes
    #: What the client's state machine made of the reply (the event's name).
    event: str
    #: The policy's decisions on this request (its trace included), as the server logged them.
    decisions: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, messages described field by field (see `describe_message`)."""
        return {
            "operation": self.operation,
            "method": self.method,
            "request": describe_message(self.request) if self.request else None,
            "status": self.status,
            "contentType": self.content_type,
            "reply": describe_reply(self.operation, self.content_type, self.reply),
            "event": self.event,
            "decisions": list(self.decisions),
        }


@dataclass
class Step:
    """One chapter of the story: what happened, the exchanges, the policy's decisions."""

    title: str
    #: What happens before the first exchange (the operator's actions, a check...).
    preface: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    #: What came of it.
    notes: list[str] = field(default_factory=list)
    #: What the chapter was meant to show, and whether it did.
    expected: str = ""
    outcome: str = ""

    @property
    def as_expected(self) -> bool:
        """True when the outcome is the one the chapter is about."""
        return self.outcome == self.expected

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "title": self.title,
            "preface": self.preface,
            "exchanges": [exchange.as_dict() for exchange in self.exchanges],
            "notes": self.notes,
            "expected": self.expected,
            "outcome": self.outcome,
        }


def describe_message(der: bytes) -> dict[str, Any]:
    """The fields of a pkiMessage a reader wants to see (read as received, unverified)."""
    try:
        message = parse_pki_message(der, defer=False)  # unreadable anywhere: said here
    except ScepError as exc:
        return {"size": len(der), "unreadable": str(exc)}
    envelope = message.envelope
    return {
        "size": len(der),
        "messageType": message.message_type.rfc_name,
        "transactionID": message.transaction_id,
        "senderNonce": _hex(message.sender_nonce),
        "recipientNonce": _hex(message.recipient_nonce),
        "pkiStatus": None if message.pki_status is None else message.pki_status.name,
        "failInfo": None if message.fail_info is None else message.fail_info.rfc_name,
        "failInfoText": message.fail_info_text,
        "digest": message.digest_algorithm,
        "signature": message.signature_algorithm,
        "signer": _signer(message.claimed_signer()),
        "contentCipher": None if envelope is None else envelope.cipher_name,
        "recipientInfos": None if envelope is None else [r.kind for r in envelope.recipients],
    }


def describe_reply(operation: str, content_type: str | None, body: bytes) -> dict[str, Any]:
    """A reply's fields: a pkiMessage's, the capabilities, or the certificates sent."""
    if operation == "PKIOperation":
        return describe_message(body)
    if operation == "GetCACaps":
        return {"size": len(body), "caps": list(CACaps.parse(body).keywords)}
    return {"size": len(body), "contentType": content_type}


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _signer(certificate: Certificate | None) -> str | None:
    return None if certificate is None else certificate.subject


# --- the story ----------------------------------------------------------------


class _Story:
    """The client, the server and the transcript being written."""

    def __init__(self, server: DemoServer, now: Callable[[], datetime]) -> None:
        self.server = server
        self.now = now
        self.client = ScepClient(profile=PROFILES["strict"])
        self.steps: list[Step] = []

    def step(self, title: str, expected: str) -> Step:
        step = Step(title, expected=expected)
        self.steps.append(step)
        return step

    def send(self, step: Step, request: HTTPRequest) -> ClientEvent:
        status, content_type, body = self.server.exchange(request)
        event = self.client.receive(status, content_type, body, now=self.now())
        operation = dict(request.query).get("operation", "")
        step.exchanges.append(
            Exchange(
                operation=operation,
                method=request.method,
                request=_pki_message_of(request),
                status=status,
                content_type=content_type,
                reply=body,
                event=type(event).__name__,
                decisions=tuple(self.server.decisions()),
            )
        )
        if isinstance(event, ProtocolFailed):
            raise ScepError(f"the demo broke the protocol: {event.reason}")
        return event

    def conclude(self, step: Step, event: ClientEvent) -> None:
        if isinstance(event, CertificateIssued):
            step.outcome = "SUCCESS"
            step.notes.append(
                f"issued: {event.certificate.subject}, serial {event.certificate.serial_number}"
            )
        elif isinstance(event, RequestRejected):
            step.outcome = "FAILURE"
            text = f" ({event.fail_info_text})" if event.fail_info_text else ""
            step.notes.append(f"refused: failInfo {event.fail_info.rfc_name}{text}")
        elif isinstance(event, RequestPending):
            step.outcome = "PENDING"
        else:
            step.outcome = type(event).__name__


def _pki_message_of(request: HTTPRequest) -> bytes:
    query = dict(request.query)
    if query.get("operation") != "PKIOperation":
        return b""
    if request.method == "POST":
        return request.body
    return decode_get_message(query.get("message", ""))


def _key(kind: str) -> PrivateKey:
    return load_private_key(new_private_key(kind))


def tell(server: DemoServer, *, now: Callable[[], datetime] | None = None) -> list[Step]:
    """Run the whole story against ``server``; the transcript, chapter by chapter."""
    story = _Story(server, now or (lambda: datetime.now(timezone.utc)))
    client = story.client

    step = story.step("GetCACaps and GetCACert: what the CA can do, and who it is", "ready")
    caps = story.send(step, client.get_caps())
    assert isinstance(caps, CapabilitiesReceived)
    if caps.negotiated is not None:
        chosen = caps.negotiated
        step.notes.append(
            f"caps {list(caps.caps.keywords)} -> {chosen.digest.value}, {chosen.cipher.value}, "
            f"{'POST' if chosen.use_post else 'GET'}"
        )
    ca = story.send(step, client.get_ca_certificates())
    assert isinstance(ca, CACertificatesReceived)
    authority = ca.certificates.ca
    step.notes.append(
        f"the demo CA: {authority.subject}, {authority.public_key_algorithm.upper()}-"
        f"{authority.public_key_bits}, SHA-256 {authority.sha256_fingerprint.hex()[:16]}..."
    )
    step.notes.extend(ca.certificates.reasons)
    step.outcome = "ready" if client.state.value == "ready" else client.state.value

    # 1. An enrollment with a one-time challenge: issued at once.
    step = story.step("PKCSReq with a one-time challenge: issued at once", "SUCCESS")
    challenge = server.new_challenge("CN=demo-device-*")
    step.preface.append(
        f"the operator makes a one-time challenge for CN=demo-device-*: {challenge[:6]}..."
    )
    first_key = _key("rsa2048")
    request = build_csr(first_key, "CN=demo-device-1", challenge_password=challenge)
    event = story.send(step, client.enroll(request, first_key, now=story.now()))
    story.conclude(step, event)
    first = event.certificate if isinstance(event, CertificateIssued) else None

    # 2. No challenge: PENDING until the operator approves; the client polls.
    step = story.step("PKCSReq without a challenge: PENDING, CertPoll, approval, issued", "SUCCESS")
    second_key = _key("rsa2048")
    request = build_csr(second_key, "CN=demo-device-2")
    event = story.send(step, client.enroll(request, second_key, now=story.now()))
    if isinstance(event, RequestPending):
        step.notes.append(
            f"the CA answered PENDING (transaction {event.transaction_id[:16]}...); "
            "the client polled with CertPoll"
        )
        event = story.send(step, client.poll(now=story.now()))
    if isinstance(event, RequestPending):
        step.notes.append(
            "the poll found it still PENDING; the operator approved it; the next poll got it"
        )
        server.approve(event.transaction_id)
        event = story.send(step, client.poll(now=story.now()))
    story.conclude(step, event)

    # 3. Later: the monitor says renewal is due; the old certificate signs the renewal.
    step = story.step("Renewal is due: a request signed by the existing certificate", "SUCCESS")
    renewed = None
    if first is not None:
        thresholds = RenewalThresholds()
        keywords = caps.caps.keywords
        today = check_renewal(first, thresholds, now=story.now(), ca_capabilities=keywords)
        later = check_renewal(first, thresholds, now=today.renew_at, ca_capabilities=keywords)
        step.preface.append(
            f"monitor check today: {today.state.name}, renewal from {today.renew_at:%Y-%m-%d}"
        )
        step.preface.append(
            f"monitor check on {today.renew_at:%Y-%m-%d}: {later.state.name}, "
            f"renew with a {later.request_type.rfc_name} signed by the current certificate"
        )
        renewed_key = _key("rsa2048")
        request = build_csr(renewed_key, first.subject_der)
        event = story.send(step, client.renew(request, KeyPair(first_key, first), now=story.now()))
        story.conclude(step, event)
        if isinstance(event, CertificateIssued):
            renewed = KeyPair(renewed_key, event.certificate)

    # 4. A renewal for somebody else's name.
    step = story.step("A renewal whose subject does not match the signer: refused", "FAILURE")
    if renewed is not None:
        request = build_csr(_key("rsa2048"), "CN=someone-else")
        story.conclude(step, story.send(step, client.renew(request, renewed, now=story.now())))

    # 5. A third valid certificate for one DN.
    step = story.step("A third valid certificate for the same DN: refused", "FAILURE")
    if renewed is not None:
        request = build_csr(_key("rsa2048"), renewed.certificate.subject_der)
        story.conclude(step, story.send(step, client.renew(request, renewed, now=story.now())))

    # 6. The first challenge again.
    step = story.step("A reused one-time challenge: refused", "FAILURE")
    third_key = _key("rsa2048")
    request = build_csr(third_key, "CN=demo-device-3", challenge_password=challenge)
    story.conclude(step, story.send(step, client.enroll(request, third_key, now=story.now())))

    # 7. CA rollover.
    step = story.step("GetNextCACert: the CA's successor, signed by the current CA", "rollover")
    event = story.send(step, client.get_next_ca_certificates())
    if isinstance(event, NextCAReceived):
        step.outcome = "rollover"
        step.notes.extend(
            f"next CA: {c.subject}, valid from {c.not_valid_before:%Y-%m-%d}"
            for c in event.certificates
        )

    # 8. An EC device: its CertRep is encrypted by key agreement.
    step = story.step("An EC P-256 device enrolls (reply by key agreement)", "SUCCESS")
    ec_challenge = server.new_challenge("CN=demo-ec-device")
    step.preface.append(f"a one-time challenge for CN=demo-ec-device: {ec_challenge[:6]}...")
    ec_key = _key("ec-p256")
    request = build_csr(ec_key, "CN=demo-ec-device", challenge_password=ec_challenge)
    story.conclude(step, story.send(step, client.enroll(request, ec_key, now=story.now())))
    return story.steps


def tell_post_quantum(
    server: DemoServer, *, now: Callable[[], datetime] | None = None
) -> list[Step]:
    """The post-quantum story (``pyscep demo --post-quantum``): an ML-DSA-65 CA whose
    ML-KEM-768 RA opens the requests, spoken to with the opt-in profile."""
    story = _Story(server, now or (lambda: datetime.now(timezone.utc)))
    story.client = ScepClient(profile=PROFILES["post-quantum"])
    client = story.client

    step = story.step("Without the post-quantum profile, a client does not use this CA", "refused")
    classical = ScepClient(profile=PROFILES["strict"])
    classical.receive(*server.exchange(classical.get_caps()), now=story.now())
    refused = classical.receive(*server.exchange(classical.get_ca_certificates()), now=story.now())
    if isinstance(refused, ProtocolFailed):
        step.outcome = "refused"
        step.notes.append(f"the strict profile's client: {refused.reason}")

    step = story.step("GetCACaps and GetCACert with the post-quantum profile", "ready")
    caps = story.send(step, client.get_caps())
    assert isinstance(caps, CapabilitiesReceived)
    step.notes.append(
        f"caps {list(caps.caps.keywords)}: no keyword says post-quantum; the client learns it"
        " from the CA's certificates"
    )
    ca = story.send(step, client.get_ca_certificates())
    assert isinstance(ca, CACertificatesReceived)
    step.notes.append(f"the CA signs with {ca.certificates.ca.public_key.algorithm}")
    step.notes.append(
        f"requests are enveloped to {ca.certificates.encryption.subject}"
        f" ({ca.certificates.encryption.public_key.algorithm}: a KEMRecipientInfo, RFC 9629)"
    )
    step.outcome = "ready" if client.state.value == "ready" else client.state.value

    step = story.step(
        "An ML-DSA-44 device enrolls; its CertRep is keyed by its challenge", "SUCCESS"
    )
    challenge = server.new_challenge("CN=demo-pq-device")
    step.preface.append(f"a one-time challenge for CN=demo-pq-device: {challenge[:6]}...")
    device_key = _key("ml-dsa-44")
    request = build_csr(device_key, "CN=demo-pq-device", challenge_password=challenge)
    event = story.send(step, client.enroll(request, device_key, now=story.now()))
    story.conclude(step, event)
    device = (
        KeyPair(device_key, event.certificate) if isinstance(event, CertificateIssued) else None
    )

    step = story.step("It renews with a new ML-DSA-44 key, signed by its certificate", "SUCCESS")
    if device is not None:
        step.preface.append(
            "no challenge is needed to renew: the CSR carries a fresh random password, which"
            " keys the CertRep (an ML-DSA key cannot be encrypted to)"
        )
        new_key = _key("ml-dsa-44")
        renewal = renewal_request(new_key, device.certificate)
        story.conclude(step, story.send(step, client.renew(renewal, device, now=story.now())))

    step = story.step("An RSA device enrolls with the post-quantum CA", "SUCCESS")
    rsa_challenge = server.new_challenge("CN=demo-rsa-device")
    step.preface.append(f"a one-time challenge for CN=demo-rsa-device: {rsa_challenge[:6]}...")
    rsa_key = _key("rsa2048")
    rsa_request = build_csr(rsa_key, "CN=demo-rsa-device", challenge_password=rsa_challenge)
    story.conclude(step, story.send(step, client.enroll(rsa_request, rsa_key, now=story.now())))
    return story.steps

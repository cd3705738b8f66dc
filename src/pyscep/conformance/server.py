"""``pyscep conformance server``: a live SCEP server checked against RFC 8894 and the
attacks SCEP servers have fallen to.

`check_server` drives the server the way clients and attackers do (see
docs/conformance.md for every check and its source) and returns a
`Scorecard`. It enrolls for real: run it against a test instance or a CA
whose certificates named ``pyscep-conformance-*`` you can revoke.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from pyscep.algorithms import LEGACY, ContentCipher, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.conformance.probe import (
    Attempt,
    Probe,
    Reply,
    ServerUnreachableError,
    Transport,
    http_transport,
)
from pyscep.conformance.scorecard import (
    CheckInfo,
    CheckResult,
    FindingSeverity,
    Outcome,
    Scorecard,
)
from pyscep.crypto import KeyPair, PrivateKey
from pyscep.enums import CACapability, MessageType, PKIStatus
from pyscep.errors import ParseError, ScepError
from pyscep.http import Operation
from pyscep.messages import (
    CACaps,
    MessageOptions,
    build_csr,
    issue_certificate,
    parse_ca_certificates,
    parse_next_ca_certificates,
    self_signed_certificate,
)

__all__ = ["CHECKS", "ServerCheckOptions", "check_server"]

_H, _C, _M, _L = (
    FindingSeverity.HIGH,
    FindingSeverity.CRITICAL,
    FindingSeverity.MEDIUM,
    FindingSeverity.LOW,
)

#: Every server check, in the order run: id, what it asks, its source, its severity.
CHECKS: dict[str, CheckInfo] = {
    c.id: c
    for c in (
        CheckInfo("caps", "GetCACaps is answered", "RFC 8894 3.5.1, 2.9", _M),
        CheckInfo("caps.algorithms", "SHA-256 and AES are advertised", "RFC 8894 2.9, 3.5.2", _M),
        CheckInfo("cacert", "GetCACert gives a usable CA (and RA)", "RFC 8894 4.2, 2.9", _C),
        CheckInfo(
            "cacert.next",
            "GetNextCACert, when advertised, is signed by the current CA",
            "RFC 8894 4.7, 3.5.2",
            _H,
        ),
        CheckInfo(
            "enroll.post", "PKCSReq by POST is answered as asked", "RFC 8894 3.3.1, 4.1, 2.9", _H
        ),
        CheckInfo("enroll.get", "PKCSReq by GET is answered as asked", "RFC 8894 4.1", _L),
        CheckInfo(
            "algorithms.advertised",
            "each advertised digest with each advertised cipher is accepted",
            "RFC 8894 3.5.2",
            _M,
        ),
        CheckInfo(
            "enroll.replay",
            "a re-sent PKCSReq gets no second certificate",
            "catalog 67 (exact replay)",
            _M,
        ),
        CheckInfo(
            "challenge.wrong",
            "a wrong challengePassword is refused with a signed FAILURE",
            "micromdm/scep#37 (S4); catalog 69",
            _C,
        ),
        CheckInfo(
            "challenge.missing",
            "a PKCSReq without challengePassword is refused",
            "inverse-inc/packetfence#7928 (S6); OmniTrustILM/core#1904; catalog 70, 74",
            _C,
        ),
        CheckInfo(
            "challenge.reuse",
            "a used one-time challenge is refused (with --single-use-challenge)",
            "VU#971035 (S7); catalog 73",
            _H,
        ),
        CheckInfo(
            "attack.signer-not-csr-key",
            "a PKCSReq signed by a key other than the CSR's is refused",
            "RFC 8894 2.3; seize-the-dave/jscep#276 (S5); catalog 75",
            _M,
        ),
        CheckInfo(
            "attack.csr-signature",
            "a PKCSReq whose CSR signature is broken is refused",
            "seize-the-dave/jscep#276 (S5); catalog 75",
            _H,
        ),
        CheckInfo(
            "attack.self-signed-renewal",
            "a RenewalReq signed by a self-made certificate is refused",
            "draft-gutmann-scep 2.3; catalog 90",
            _C,
        ),
        CheckInfo(
            "attack.foreign-ca-renewal",
            "a RenewalReq signed by another CA's certificate (same issuer name) is refused",
            "micromdm/scep#117 (S3); catalog 84, 93",
            _C,
        ),
        CheckInfo(
            "attack.update-req",
            "an unauthenticated UpdateReq (18) is refused",
            "CVE-2026-30836 (S1); catalog 61",
            _C,
        ),
        CheckInfo(
            "attack.poll-hijack",
            "a CertPoll for another requester's transaction gets nothing",
            "catalog 65, 68; RFC 8894 3.3.3",
            _H,
        ),
        CheckInfo(
            "attack.pending-bypass",
            "a PENDING request stays PENDING, poll after poll, without approval"
            " (with --expect-pending)",
            "RFC 8894 3.3.3; issue 26",
            _H,
        ),
        CheckInfo(
            "attack.weak-algorithms",
            "a request with single DES and MD5 is refused",
            "dogtagpki/pki#3428, #541 (S14); catalog 83",
            _M,
        ),
        CheckInfo(
            "renewal.valid",
            "a renewal signed by the current certificate works",
            "RFC 8894 3.3.1, 2.3",
            _M,
        ),
        CheckInfo(
            "compat.draft-renewal",
            "a renewal sent as a PKCSReq signed by the current certificate works",
            "draft-nourse-scep-12; RFC 8894 3.3.1, 3.5.2",
            _L,
        ),
        CheckInfo(
            "renewal.subject-change",
            "a renewal asking for another subject is refused",
            "OmniTrustILM/core#1903; catalog 87",
            _H,
        ),
        CheckInfo(
            "robust.oversized",
            "a 3 MiB body is refused before parsing",
            "catalog 96; step-ca maxPayloadSize; CVE-2024-43541 (S8)",
            _M,
        ),
        CheckInfo(
            "robust.malformed",
            "malformed bodies get an HTTP 4xx or a signed FAILURE, never a crash",
            "catalog groups 1-5; micromdm/scep#37 (S4)",
            _M,
        ),
        CheckInfo(
            "reply.signed",
            "every CertRep is signed by the CA or RA of GetCACert",
            "RFC 8894 3.3.2, 3.1",
            _H,
        ),
        CheckInfo(
            "reply.transaction-id", "every CertRep echoes the transactionID", "RFC 8894 3.2.1.1", _M
        ),
        CheckInfo(
            "reply.recipient-nonce",
            "every CertRep's recipientNonce is the request's senderNonce",
            "RFC 8894 3.2.1.5",
            _M,
        ),
        CheckInfo("reply.fail-info", "every FAILURE carries a failInfo", "RFC 8894 3.2.1.4", _M),
        CheckInfo(
            "reply.content-type",
            "every CertRep comes as application/x-pki-message",
            "RFC 8894 4, 4.3",
            _L,
        ),
        CheckInfo(
            "reply.algorithms",
            "replies to SHA-256/AES requests use neither MD5/SHA-1 nor DES/3DES",
            "RFC 8894 2.9; dogtagpki/pki#541 (S14)",
            _M,
        ),
    )
}

#: The capabilities that name a digest or a cipher, and what a request then uses.
_DIGESTS = {
    CACapability.SHA_1: DigestAlgorithm.SHA1,
    CACapability.SHA_224: DigestAlgorithm.SHA224,
    CACapability.SHA_256: DigestAlgorithm.SHA256,
    CACapability.SHA_384: DigestAlgorithm.SHA384,
    CACapability.SHA_512: DigestAlgorithm.SHA512,
}
_CIPHERS = {
    CACapability.DES3: ContentCipher.TRIPLEDES_CBC,
    CACapability.AES: ContentCipher.AES128_CBC,
}

#: How many times the owner of a PENDING request polls for it (attack.pending-bypass).
PENDING_POLLS = 3

#: A body no SCEP message is near (catalog 96: step-ca refuses above 2 MiB).
OVERSIZED_BODY = 3 << 20


@dataclass(frozen=True)
class ServerCheckOptions:
    """What the operator provides.

    :param challenge: a challengePassword the server accepts (without one the
        checks that need an accepted enrollment are skipped).
    :param renew: a certificate this server issued and its key, to renew with
        (by default the one the run enrolled for, when it got one).
    :param expect_pending: the server holds requests for an operator, who
        approves none during the run.
    :param single_use_challenge: the challenge may be used once only.
    :param ca_fingerprint: the CA certificate's SHA-256, to pin it.
    """

    challenge: str | None = None
    renew: KeyPair | None = None
    expect_pending: bool = False
    single_use_challenge: bool = False
    ca_fingerprint: bytes | None = None


class _Run:
    """One run of the checks against one server."""

    def __init__(self, probe: Probe, options: ServerCheckOptions) -> None:
        self.probe = probe
        self.options = options
        self.results: list[CheckResult] = []
        #: The first honest enrollment: its request, and the certificate it got, if any.
        self.first: Attempt | None = None
        self.first_key: PrivateKey | None = None
        self.challenge_left = options.challenge is not None

    def record(
        self,
        check_id: str,
        outcome: Outcome,
        evidence: str,
        failed_as: FindingSeverity | None = None,
    ) -> None:
        self.results.append(CheckResult(CHECKS[check_id], outcome, evidence, failed_as))

    def skip(self, check_id: str, why: str) -> None:
        self.record(check_id, Outcome.SKIP, why)

    # --- discovery ---------------------------------------------------------------

    def discovery(self) -> bool:
        """GetCACaps and GetCACert; False when there is no CA to send requests to."""
        status, _, body = self.probe.operation(Operation.GET_CA_CAPS)
        if status == 0:
            raise ServerUnreachableError(body.decode("utf-8", "replace") or "no HTTP answer")
        unreadable = None
        try:
            caps = CACaps.parse(body) if status == 200 else CACaps()
        except ParseError as exc:  # not ASCII, or too large (LimitExceededError): unread
            caps, unreadable = CACaps(), str(exc)
        self.probe.caps = caps
        listed = ", ".join(caps.keywords) or "none"
        if unreadable is not None:
            self.record("caps", Outcome.FAIL, f"HTTP {status}, unreadable: {unreadable}")
        elif status == 200 and caps.keywords:
            self.record("caps", Outcome.PASS, f"advertised: {listed}")
        else:
            self.record("caps", Outcome.FAIL, f"HTTP {status or 'none'}, capabilities: {listed}")
        missing = [c.value for c in (CACapability.SHA_256, CACapability.AES) if c not in caps]
        standard = CACapability.SCEP_STANDARD in caps
        if missing and not standard:
            self.record("caps.algorithms", Outcome.FAIL, f"not advertised: {', '.join(missing)}")
        else:
            self.record("caps.algorithms", Outcome.PASS, "SCEPStandard" if standard else listed)
        status, _, body = self.probe.operation(Operation.GET_CA_CERT)
        try:
            if status != 200:
                raise ScepError(f"HTTP {status or 'none'}: {body[:80]!r}")
            ca = parse_ca_certificates(
                body,
                now=self.probe.now,
                ca_fingerprint=self.options.ca_fingerprint,
                algorithms=LEGACY,
            )
        except ScepError as exc:
            self.record("cacert", Outcome.FAIL, str(exc))
            return False
        self.probe.ca = ca
        self.record(
            "cacert",
            Outcome.PASS,
            f"CA {ca.ca.subject!r}; requests enveloped to {ca.encryption.subject!r}",
        )
        self.next_ca()
        return True

    def next_ca(self) -> None:
        """GetNextCACert, when advertised: the rollover CA signed by the current one."""
        if CACapability.GET_NEXT_CA_CERT not in self.probe.caps:
            self.skip("cacert.next", "GetNextCACert is not advertised")
            return
        status, _, body = self.probe.operation(Operation.GET_NEXT_CA_CERT)
        try:
            if status != 200:
                raise ScepError(f"HTTP {status or 'none'}: {body[:80]!r}")
            chain = parse_next_ca_certificates(body, self.probe.authority, algorithms=LEGACY)
        except ScepError as exc:
            self.record("cacert.next", Outcome.FAIL, str(exc))
            return
        self.record("cacert.next", Outcome.PASS, f"next CA {chain[0].subject!r}")

    # --- honest enrollments ------------------------------------------------------

    def _expected(self) -> PKIStatus:
        return PKIStatus.PENDING if self.options.expect_pending else PKIStatus.SUCCESS

    def _honest(self, check_id: str, *, use_get: bool) -> Attempt | None:
        if not self.challenge_left:
            self.skip(check_id, "needs --challenge (an unused one with --single-use-challenge)")
            return None
        key = self.probe.new_key()
        attempt = self.probe.enroll(
            subject=self.probe.new_subject("device"),
            challenge=self.options.challenge,
            key=key,
            use_get=use_get,
        )
        if self.options.single_use_challenge:
            self.challenge_left = False
        reply = attempt.reply
        if self._as_asked(reply):
            self.record(check_id, Outcome.PASS, reply.describe())
        else:
            self.record(
                check_id, Outcome.FAIL, f"expected {self._expected().name}: {reply.describe()}"
            )
        if self.first is None:
            self.first, self.first_key = attempt, key
        return attempt

    def enrollments(self) -> None:
        """PKCSReq by POST, the challenge again, by GET, re-sent, with every algorithm."""
        first = self._honest("enroll.post", use_get=False)
        if first is not None and self.options.single_use_challenge:
            self.challenge_reuse(first)
        elif self.options.challenge is not None:
            self.skip(
                "challenge.reuse", "a static challenge may be reused (no --single-use-challenge)"
            )
        else:
            self.skip("challenge.reuse", "needs --challenge")
        self._honest("enroll.get", use_get=True)
        self.replay()
        self.advertised_algorithms()

    def advertised_algorithms(self) -> None:
        """Every pair of an advertised digest and an advertised cipher (SHA-256 and AES,
        mandatory, counted as advertised), but SHA-256 with AES, which enroll.post sent."""
        if not self.challenge_left:
            self.skip("algorithms.advertised", "needs an unused --challenge")
            return
        caps = self.probe.caps
        digests = [d for c, d in _DIGESTS.items() if c in caps or d is DigestAlgorithm.SHA256]
        ciphers = [k for c, k in _CIPHERS.items() if c in caps or k is ContentCipher.AES128_CBC]
        # A client may combine any advertised digest with any advertised cipher.
        pairs = [
            (digest, cipher)
            for digest in digests
            for cipher in ciphers
            if (digest, cipher) != (DigestAlgorithm.SHA256, ContentCipher.AES128_CBC)
        ]
        if not pairs:
            self.skip("algorithms.advertised", "nothing advertised besides SHA-256 and AES")
            return
        accepted, refused = [], []
        for digest, cipher in pairs:
            options = MessageOptions(digest=digest, cipher=cipher, algorithms=LEGACY)
            reply = self.probe.enroll(
                subject=self.probe.new_subject("algorithms"),
                challenge=self.options.challenge,
                options=options,
            ).reply
            if self._as_asked(reply):
                accepted.append(f"{digest.value}/{cipher.value}")
            else:
                refused.append(f"{digest.value} with {cipher.value}: {reply.describe()}")
        if refused:
            self.record(
                "algorithms.advertised",
                Outcome.FAIL,
                f"{'; '.join(refused)} (accepted: {', '.join(accepted) or 'none'})",
            )
        else:
            self.record("algorithms.advertised", Outcome.PASS, f"accepted: {', '.join(accepted)}")

    def replay(self) -> None:
        """The first enrollment's request again, byte for byte."""
        first = self.first
        if first is None or first.reply.pki_status is None:
            self.skip("enroll.replay", "no enrollment was answered with a CertRep")
            return
        if first.reply.pki_status is PKIStatus.PENDING:
            self.skip("enroll.replay", "the enrollment is PENDING: no certificate to compare")
            return
        again = self.probe.exchange(first.request, first.signer, first.csr)
        before, after = first.reply.issued, again.issued
        if first.reply.pki_status is PKIStatus.FAILURE and again.delivered:
            self.record(
                "enroll.replay",
                Outcome.FAIL,
                f"refused, then issued when re-sent: {again.describe()}",
            )
        elif before is None:
            self.skip(
                "enroll.replay",
                f"the enrollment got no certificate to compare with (re-sent: {again.describe()})",
            )
        elif after is not None and before != after:
            self.record(
                "enroll.replay",
                Outcome.FAIL,
                f"two certificates for one request: serials {before.serial_number:x}"
                f" and {after.serial_number:x}",
            )
        else:
            self.record("enroll.replay", Outcome.PASS, f"re-sent: {again.describe()}")

    def challenge_reuse(self, first: Attempt) -> None:
        """The challenge ``first`` used, for another key."""
        if not first.reply.granted:
            self.skip("challenge.reuse", "the challenge was not accepted once")
            return
        reply = self.probe.enroll(
            subject=self.probe.new_subject("reuse"), challenge=self.options.challenge
        ).reply
        self._refused("challenge.reuse", reply)

    # --- attacks ---------------------------------------------------------------

    def _refused(self, check_id: str, answer: Attempt | Reply) -> None:
        """PASS when the server issued nothing (FAILURE, or an HTTP refusal)."""
        reply = answer.reply if isinstance(answer, Attempt) else answer
        if reply.delivered:
            self.record(check_id, Outcome.FAIL, f"issued: {reply.describe()}")
        elif reply.pki_status is PKIStatus.SUCCESS:
            # No issuance proven (unsigned, a stranger's signature, no certificate in it),
            # and no refusal either: a broken answer.
            self.record(
                check_id,
                Outcome.FAIL,
                f"a SUCCESS that proves no issuance, and no refusal: {reply.describe()}",
                self._milder(check_id),
            )
        elif reply.pki_status is PKIStatus.PENDING and not self.options.expect_pending:
            # Held, not issued: an operator may still refuse it (--expect-pending says so).
            self.record(
                check_id,
                Outcome.FAIL,
                f"accepted for later: {reply.describe()}",
                self._milder(check_id),
            )
        elif reply.pki_status is PKIStatus.PENDING:
            self.record(check_id, Outcome.PASS, f"{reply.describe()} (held: approve none of these)")
        else:
            self.record(check_id, Outcome.PASS, reply.describe())

    @staticmethod
    def _milder(check_id: str) -> FindingSeverity:
        """The check's severity, medium at most: a failure short of an issuance."""
        severity = CHECKS[check_id].severity
        return min(severity, FindingSeverity.MEDIUM, key=lambda s: s.rank)

    def wrong_challenges(self) -> None:
        """A wrong challengePassword, then none."""
        wrong = self.probe.enroll(
            subject=self.probe.new_subject("wrong"), challenge=f"wrong-{secrets.token_hex(8)}"
        ).reply
        self._refused_with_certrep("challenge.wrong", wrong)
        missing = self.probe.enroll(subject=self.probe.new_subject("none"), challenge=None).reply
        self._refused_with_certrep("challenge.missing", missing)

    def _refused_with_certrep(self, check_id: str, reply: Reply) -> None:
        """`_refused`, and a refusal must be a signed CertRep FAILURE, not an HTTP error."""
        if reply.granted or reply.refused_cleanly:
            self._refused(check_id, reply)
        else:
            self.record(
                check_id,
                Outcome.FAIL,
                f"refused, but not with a signed CertRep FAILURE: {reply.describe()}",
                failed_as=FindingSeverity.MEDIUM,
            )

    def proof_of_possession(self) -> None:
        """A PKCSReq signed by another key than the CSR's, and one whose CSR's signature is
        broken: neither proves possession of the key certified."""
        if not self.challenge_left:
            self.skip("attack.signer-not-csr-key", "needs an unused --challenge")
            self.skip("attack.csr-signature", "needs an unused --challenge")
            return
        subject = self.probe.new_subject("victim")
        attacker = self.probe.requester(subject)
        attempt = self.probe.enroll(
            subject=subject, challenge=self.options.challenge, signer=attacker
        )
        self._refused("attack.signer-not-csr-key", attempt)
        tampered = self.probe.enroll(
            subject=self.probe.new_subject("tampered"),
            challenge=self.options.challenge,
            tamper_csr=True,
        )
        self._refused("attack.csr-signature", tampered)

    def forged_renewals(self) -> None:
        """Renewals signed by a self-made certificate and by another CA's; an UpdateReq."""
        issued = self._first_certificate()
        # The identity of a real device, when the run has one.
        subject_of = issued.subject_der if issued is not None else self.probe.new_subject("renew")
        key = self.probe.new_key()
        self_made = KeyPair(key, self_signed_certificate(key, subject_of, now=self.probe.now))
        attempt = self._renewal_as(self_made, subject_of)
        self._refused("attack.self-signed-renewal", attempt)
        # A CA of our own with the real CA's name: a check of the issuer name alone is fooled.
        ca_key = self.probe.new_key()
        fake_ca = KeyPair(
            ca_key,
            self_signed_certificate(
                ca_key, self.probe.authority.ca.subject_der, now=self.probe.now, ca=True
            ),
        )
        signer_key = self.probe.new_key()
        signer_csr = build_csr(signer_key, subject_of)
        foreign = issue_certificate(fake_ca, signer_csr, now=self.probe.now, days=30)
        attempt = self._renewal_as(KeyPair(signer_key, foreign), subject_of)
        self._refused("attack.foreign-ca-renewal", attempt)
        update = self.probe.enroll(
            subject=self.probe.new_subject("update"),
            challenge=None,
            message_type=MessageType.UPDATE_REQ,
        )
        self._refused("attack.update-req", update)

    def _renewal_as(self, signer: KeyPair, subject: str | bytes) -> Attempt:
        return self.probe.enroll(
            subject=subject, challenge=None, message_type=MessageType.RENEWAL_REQ, signer=signer
        )

    def polls(self) -> None:
        """CertPoll for the first enrollment: by another key, then by its owner (PENDING)."""
        first = self.first
        if first is None or not first.reply.granted:
            self.skip("attack.poll-hijack", "no enrollment was accepted to poll for")
            self.skip("attack.pending-bypass", "no enrollment was accepted to poll for")
            return
        victim = first.request.transaction_id
        subject = first.signer.certificate.subject_der
        attacker = self.probe.requester(subject)
        hijack = self.probe.poll(victim, attacker).reply
        if hijack.delivered:
            self.record("attack.poll-hijack", Outcome.FAIL, f"delivered: {hijack.describe()}")
        elif hijack.pki_status is PKIStatus.SUCCESS:
            self.record(
                "attack.poll-hijack",
                Outcome.FAIL,
                f"a SUCCESS that proves no delivery, and no refusal: {hijack.describe()}",
                self._milder("attack.poll-hijack"),
            )
        else:
            self.record("attack.poll-hijack", Outcome.PASS, hijack.describe())
        if not self.options.expect_pending:
            self.skip("attack.pending-bypass", "the server issues at once (no --expect-pending)")
            return
        for poll in range(1, PENDING_POLLS + 1):
            polled = self.probe.poll(victim, first.signer).reply
            if polled.pki_status is PKIStatus.SUCCESS:
                self.record(
                    "attack.pending-bypass",
                    Outcome.FAIL,
                    f"issued unapproved at poll {poll}: {polled.describe()}",
                )
                return
        self.record(
            "attack.pending-bypass", Outcome.PASS, f"{PENDING_POLLS} polls: {polled.describe()}"
        )

    def weak_algorithms(self) -> None:
        """A PKCSReq with MD5 and single DES."""
        if not self.challenge_left:
            self.skip("attack.weak-algorithms", "needs an unused --challenge")
            return
        weak = MessageOptions(
            digest=DigestAlgorithm.MD5, cipher=ContentCipher.DES_CBC, algorithms=LEGACY
        )
        attempt = self.probe.enroll(
            subject=self.probe.new_subject("des"), challenge=self.options.challenge, options=weak
        )
        self._refused("attack.weak-algorithms", attempt)

    def renewals(self) -> None:
        """A renewal for another subject, a renewal as RFC 8894 clients send it, then the
        certificate it got renewed as draft-era clients do."""
        current = self.options.renew
        issued = self._first_certificate()
        if current is None and issued is not None:
            assert self.first_key is not None
            current = KeyPair(self.first_key, issued)
        if current is None:
            why = "no certificate to renew (--renew-cert/--renew-key)"
            first = None if self.first is None else self.first.reply
            if first is not None and first.issued is not None and first.problem is not None:
                why = f"the certificate enroll.post got cannot be renewed ({first.problem})"
            for check_id in ("renewal.subject-change", "renewal.valid", "compat.draft-renewal"):
                self.skip(check_id, why)
            return
        kind = (
            MessageType.RENEWAL_REQ
            if CACapability.RENEWAL in self.probe.caps
            else MessageType.PKCS_REQ
        )
        subject = current.certificate.subject_der
        drift = self._renewal(current, kind, self.probe.new_subject("intruder"), None)
        new_key = self.probe.new_key()
        renewed = self._renewal(current, kind, subject, None, new_key)
        challenge: str | None = None  # what a renewal needs besides the certificate
        if self._as_asked(renewed):
            self.record("renewal.valid", Outcome.PASS, renewed.describe())
            self._refused("renewal.subject-change", drift)
        else:
            without = renewed
            if self.challenge_left:  # some servers (micromdm) want the challenge as well
                challenge = self.options.challenge
                renewed = self._renewal(current, kind, subject, challenge, new_key)
                self.challenge_left = not self.options.single_use_challenge
            if self._as_asked(renewed):
                self.record(
                    "renewal.valid",
                    Outcome.FAIL,
                    f"{kind.rfc_name} renewed only with the challengePassword as well"
                    f" (without: {without.describe()})",
                    FindingSeverity.INFO,
                )
            else:
                self.record("renewal.valid", Outcome.FAIL, f"{kind.rfc_name}: {without.describe()}")
            if drift.delivered:
                self._refused("renewal.subject-change", drift)
            else:
                self.skip(
                    "renewal.subject-change",
                    "nothing is renewed on the certificate alone, so its refusal proves"
                    f" nothing ({drift.describe()})",
                )
        if renewed.issued is None or renewed.problem is not None:
            self.skip("compat.draft-renewal", "renewal.valid got no certificate to renew again")
        else:
            self.draft_renewal(KeyPair(new_key, renewed.issued), kind, challenge)

    def _first_certificate(self) -> Certificate | None:
        """The certificate the first enrollment got, when it is the one asked for (for the
        CSR's key: a certificate for another key is a finding of enroll.post, not a
        certificate the run holds the key of)."""
        reply = None if self.first is None else self.first.reply
        if reply is None or reply.problem is not None or not reply.signed:
            return None
        return reply.issued

    def draft_renewal(self, current: KeyPair, kind: MessageType, challenge: str | None) -> None:
        """``current`` (what renewal.valid got) renewed by a PKCSReq signed with it, as
        draft-era clients renew."""
        if kind is MessageType.PKCS_REQ:
            self.skip("compat.draft-renewal", "renewal.valid sent a PKCSReq already")
            return
        if challenge is not None and not self.challenge_left:
            self.skip("compat.draft-renewal", "needs an unused --challenge")
            return
        subject = current.certificate.subject_der
        reply = self._renewal(current, MessageType.PKCS_REQ, subject, challenge)
        if self._as_asked(reply):
            self.record("compat.draft-renewal", Outcome.PASS, reply.describe())
        else:
            self.record("compat.draft-renewal", Outcome.FAIL, reply.describe())

    def _renewal(
        self,
        current: KeyPair,
        kind: MessageType,
        subject: str | bytes,
        challenge: str | None,
        key: PrivateKey | None = None,
    ) -> Reply:
        """A renewal of ``current`` for ``key`` (a new one by default), asking for ``subject``."""
        return self.probe.enroll(
            subject=subject, challenge=challenge, signer=current, message_type=kind, key=key
        ).reply

    def _as_asked(self, reply: Reply) -> bool:
        """SUCCESS with the certificate (PENDING with --expect-pending), nothing wrong."""
        if reply.pki_status is not self._expected() or reply.problem is not None:
            return False
        return reply.pki_status is PKIStatus.PENDING or reply.issued is not None

    # --- robustness ------------------------------------------------------------

    def robustness(self) -> None:
        """An oversized body, then malformed ones."""
        status, _, answer = self.probe.post_body(b"0" * OVERSIZED_BODY)
        if 400 <= status < 500:
            self.record("robust.oversized", Outcome.PASS, f"HTTP {status}")
        elif status == 0 and b"timed out" not in answer:
            # A server may close the connection on a body it will not read; one that
            # crashed answers nothing after it.
            after, _, _ = self.probe.operation(Operation.GET_CA_CAPS)
            if after == 0:
                self.record(
                    "robust.oversized",
                    Outcome.FAIL,
                    f"connection closed ({answer[:80]!r}), and GetCACaps is no longer answered",
                )
            else:
                self.record(
                    "robust.oversized",
                    Outcome.PASS,
                    f"connection closed: {answer[:80]!r}; GetCACaps answered after it",
                )
        else:
            said = f"HTTP {status}" if status else "no answer"
            self.record("robust.oversized", Outcome.FAIL, f"{said}: {answer[:80]!r}")
        bad = []
        for name, body in self._malformed():
            status, _, answer = self.probe.post_body(body)
            if 400 <= status < 500:
                continue
            if status == 200 and self.probe.read_unsolicited(answer).refused_cleanly:
                continue
            bad.append(f"{name}: HTTP {status or 'none'}")
        if bad:
            self.record("robust.malformed", Outcome.FAIL, "; ".join(bad))
        else:
            self.record("robust.malformed", Outcome.PASS, "each refused with HTTP 4xx or a FAILURE")

    def _malformed(self) -> Iterator[tuple[str, bytes]]:
        yield "random bytes", secrets.token_bytes(2048)
        yield "an empty body", b""
        yield "a SEQUENCE that is no CMS", bytes.fromhex("3003020101")
        if self.first is not None:
            der = self.first.request.der
            yield "a truncated pkiMessage", der[: len(der) // 2]
        yield "an indefinite-length bomb", b"\x30\x80" * 4000

    def reply_rules(self) -> None:
        """The rules every CertRep read had to keep."""
        for check_id in (
            "reply.signed",
            "reply.transaction-id",
            "reply.recipient-nonce",
            "reply.fail-info",
            "reply.content-type",
            "reply.algorithms",
        ):
            broken = self.probe.violations.get(check_id)
            if self.probe.replies == 0:
                self.skip(check_id, "no CertRep was received")
            elif broken:
                more = f" (and {len(broken) - 3} more)" if len(broken) > 3 else ""
                self.record(check_id, Outcome.FAIL, "; ".join(broken[:3]) + more)
            else:
                self.record(check_id, Outcome.PASS, f"{self.probe.replies} CertReps read")


def check_server(
    url: str,
    options: ServerCheckOptions = ServerCheckOptions(),
    *,
    now: datetime,
    transport: Transport | None = None,
) -> Scorecard:
    """Run every check against the SCEP server at ``url``; ``transport`` replaces HTTP.

    Raises ServerUnreachableError when GetCACaps got no HTTP answer at all.
    """
    probe = Probe(transport or http_transport(url), urlsplit(url).path or "/", now)
    run = _Run(probe, options)
    steps: tuple[Callable[[], None], ...] = (
        run.enrollments,
        run.wrong_challenges,
        run.proof_of_possession,
        run.forged_renewals,
        run.polls,
        run.weak_algorithms,
        run.renewals,
        run.robustness,
    )
    if run.discovery():
        for step in steps:
            step()
        run.reply_rules()
    else:
        ran = {r.check.id for r in run.results}
        for check_id in CHECKS:
            if check_id not in ran:
                run.skip(check_id, "GetCACert gave no usable CA")
    order = list(CHECKS)
    results = sorted(run.results, key=lambda r: order.index(r.check.id))
    return Scorecard(url, tuple(results))

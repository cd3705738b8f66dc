"""The rules `pyscep.policy.evaluate` runs, one step each, and the trace they write.

Each rule either passes (a trace entry, and the evaluation goes on) or
settles the decision by raising `Decided`; `Run` holds the trace so far and
how the request is classified. The order the rules run in is
`pyscep.policy.evaluate`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pyscep.algorithms import AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.crypto import CryptoBackend
from pyscep.enums import FailInfo, MessageType
from pyscep.policy.config import EnrollmentMode, OutsideWindow, PolicyConfig, RequestedSid
from pyscep.policy.decision import Action, Classification, Decision, Outcome, TraceEntry
from pyscep.policy.inputs import (
    CertificateStatus,
    ChallengeOutcome,
    Inventory,
    InventoryRecord,
    RequestView,
)
from pyscep.policy.provenance import issuing_ca
from pyscep.sid import sid_of_subject_alt_name

_ENROLLMENT_TYPES = (MessageType.PKCS_REQ, MessageType.RENEWAL_REQ)


class Decided(Exception):  # noqa: N818 - control flow, not an error
    """Internal: a rule settled the decision."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.action.value)
        self.decision = decision


class Run:
    """One evaluation: the trace so far and how the request is classified."""

    def __init__(self) -> None:
        self.trace: list[TraceEntry] = []
        self.classification = Classification.UNCLASSIFIED

    def note(self, rule: str, outcome: Outcome, detail: str) -> None:
        self.trace.append(TraceEntry(rule, outcome, detail))

    def passed(self, rule: str, detail: str) -> None:
        self.note(rule, Outcome.PASS, detail)

    def reject(self, rule: str, fail_info: FailInfo, detail: str) -> Decided:
        self.note(rule, Outcome.FAIL, detail)
        return Decided(
            Decision(
                Action.REJECT,
                self.classification,
                tuple(self.trace),
                fail_info=fail_info,
                fail_info_text=detail,
            )
        )


def type_and_signature(run: Run, kind: MessageType, verified: bool) -> None:
    if kind not in _ENROLLMENT_TYPES:
        raise run.reject(
            "message-type",
            FailInfo.BAD_REQUEST,
            f"{kind.rfc_name} is not an enrollment or renewal request",
        )
    run.passed("message-type", kind.rfc_name)
    if not verified:
        raise run.reject(
            "signature", FailInfo.BAD_MESSAGE_CHECK, "the request signature did not verify"
        )
    run.passed("signature", "the request signature verified")


def trusted_ra(run: Run, signer: Certificate, config: PolicyConfig) -> bool:
    """Is the signer a configured RA certificate (trusted by its fingerprint, not its name)?"""
    if signer.sha256_fingerprint.hex() not in config.trusted_ras:
        return False
    run.passed("trusted-ra", f"signed by the trusted RA {signer.subject!r}")
    return True


def provenance(
    run: Run,
    signer: Certificate,
    cas: Sequence[Certificate],
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
) -> Certificate | None:
    """The CA that issued the signer; None for a self-signed signer; REJECT otherwise."""
    ca = issuing_ca(signer, cas, backend, algorithms)
    if ca is None:
        if not signer.self_signed:
            raise run.reject(
                "signer-provenance",
                FailInfo.BAD_CERT_ID,
                f"signer {signer.subject!r} was not issued by one of our CAs",
            )
        return None
    run.passed("signer-provenance", f"signer issued by {ca.subject!r}")
    return ca


def check_key(run: Run, request: RequestView, config: PolicyConfig) -> None:
    key = request.public_key
    if key.algorithm not in config.allowed_key_algorithms:
        raise run.reject("key-algorithm", FailInfo.BAD_ALG, f"{key.algorithm} keys are not allowed")
    minimum = config.minimum_rsa_bits if key.algorithm == "RSA" else config.minimum_ec_bits
    # An ML-DSA key's size is its parameter set, which allowed_key_algorithms names.
    if not key.algorithm.startswith("ML-") and key.bits < minimum:
        raise run.reject(
            "key-size",
            FailInfo.BAD_ALG,
            f"{key.algorithm}-{key.bits} is below the minimum of {minimum} bits",
        )
    run.passed(
        "key", key.algorithm if key.algorithm.startswith("ML-") else f"{key.algorithm}-{key.bits}"
    )


def check_signer(
    run: Run, signer: Certificate, config: PolicyConfig, inventory: Inventory, now: datetime
) -> InventoryRecord:
    record = inventory.lookup(signer)
    if record is None:
        raise run.reject(
            "signer-status", FailInfo.BAD_CERT_ID, "the signer certificate is not in the inventory"
        )
    if record.status is CertificateStatus.REVOKED:
        raise run.reject("signer-status", FailInfo.BAD_CERT_ID, "the signer certificate is revoked")
    if now < signer.not_valid_before:
        raise run.reject(
            "signer-validity", FailInfo.BAD_TIME, "the signer certificate is not valid yet"
        )
    if now > signer.not_valid_after:
        if now > signer.not_valid_after + config.expired_signer_grace:
            raise run.reject(
                "signer-validity", FailInfo.BAD_CERT_ID, "the signer certificate has expired"
            )
        run.note("signer-validity", Outcome.INFO, "expired, but within the grace period")
    else:
        run.passed("signer-validity", "the signer certificate is valid and not revoked")
    return record


def _challenge(run: Run, request: RequestView, *, required: bool, waiver: str | None) -> None:
    verdict = request.challenge
    # The verdict's own reason goes in the trace: wrong, used, expired, someone else's.
    if verdict.outcome is ChallengeOutcome.REFUSED:
        raise run.reject("challenge", FailInfo.BAD_REQUEST, verdict.reason)
    if verdict.accepted:
        run.passed("challenge", verdict.reason)
    elif waiver is not None:
        run.note("challenge", Outcome.INFO, f"no challenge needed: {waiver}")
    elif required:
        raise run.reject("challenge", FailInfo.BAD_REQUEST, "a challenge password is required")
    else:
        run.note("challenge", Outcome.INFO, "no challenge, none required")


def _common_checks(
    run: Run, request: RequestView, config: PolicyConfig, inventory: Inventory
) -> list[InventoryRecord]:
    matching = list(inventory.find(request.subject, config.renewal_rdn_match))
    valid = [r for r in matching if r.status is CertificateStatus.VALID]
    if request.transaction_id is not None:
        done = next((r for r in valid if r.request_id == request.transaction_id), None)
        if done is not None:
            raise run.reject(
                "duplicate-transaction",
                FailInfo.BAD_REQUEST,
                f"transaction already issued serial {done.certificate.serial_number}",
            )
    if len(valid) >= config.max_valid_certificates:
        raise run.reject(
            "max-valid-certificates",
            FailInfo.BAD_REQUEST,
            f"{len(valid)} valid certificates already match, at most "
            f"{config.max_valid_certificates} allowed",
        )
    run.passed(
        "max-valid-certificates", f"{len(valid)} valid of {config.max_valid_certificates} allowed"
    )
    return valid


def requested_sid(
    run: Run, request: RequestView, config: PolicyConfig, *, renewed: Certificate | None
) -> None:
    """A Windows account SID the request asks for is never copied (anyone can ask for
    anyone's). The challenge verdict's SID is vouched for; a renewal asking again for a
    SID the renewed certificate carries asks for nothing new (the server keeps it only
    where it recorded who vouched for it). Any other is stripped, or refused."""
    if not request.requested_sids:
        return
    vouched = request.challenge.sid if request.challenge.accepted else None
    carried = set() if renewed is None else set(renewed.sids)
    foreign = sorted(
        sid
        for sid in set(request.requested_sids)
        if sid not in carried and (vouched is None or sid != vouched.sid)
    )
    if not foreign:
        asked = ", ".join(sorted(set(request.requested_sids)))
        by = vouched.vouched_by if vouched is not None else "the renewed certificate carries it"
        run.passed("requested-sid", f"SID {asked} asked for: {by}")
        return
    if config.requested_sid is RequestedSid.REFUSE:
        raise run.reject(
            "requested-sid",
            FailInfo.BAD_REQUEST,
            f"the request asks for SID {', '.join(foreign)}, which no trusted source vouches for",
        )
    run.note(
        "requested-sid",
        Outcome.INFO,
        f"SID {', '.join(foreign)} asked for, vouched for by nobody: not copied into the"
        " certificate",
    )


def _subject_alt_names(run: Run, request: RequestView, config: PolicyConfig) -> tuple[str, ...]:
    if config.keep_subject_alt_name:
        # A SID URI stays out whatever is kept (`requested_sid` said so in the trace).
        kept = tuple(n for n in request.subject_alt_names if sid_of_subject_alt_name(n) is None)
        run.note("subject-alt-name", Outcome.INFO, f"kept {len(kept)} SANs")
        return kept
    if request.subject_alt_names:
        run.note("subject-alt-name", Outcome.INFO, "requested SANs dropped")
    return ()


def _approve(
    run: Run, *, auto: bool, why: str, role: str, ra: str, sans: tuple[str, ...]
) -> Decision:
    if auto:
        run.passed("approval", f"issued automatically: {why}")
        action = Action.ISSUE
    else:
        run.note("approval", Outcome.INFO, "left for manual approval")
        action = Action.PENDING
    return Decision(
        action, run.classification, tuple(run.trace), role=role, ra=ra, subject_alt_names=sans
    )


def _new_identity(
    run: Run, request: RequestView, config: PolicyConfig, *, auto: bool, why: str
) -> Decision:
    """Approval of an identity we have not issued to before: the default role and RA."""
    run.note("role", Outcome.INFO, "defaults for a new enrollment")
    return _approve(
        run,
        auto=auto,
        why=why,
        role=config.default_role,
        ra=config.default_ra,
        sans=_subject_alt_names(run, request, config),
    )


def initial(
    run: Run,
    request: RequestView,
    config: PolicyConfig,
    inventory: Inventory,
    kind: MessageType,
) -> Decision:
    run.classification = Classification.INITIAL
    if kind is MessageType.RENEWAL_REQ:
        raise run.reject(
            "renewal-authentication",
            FailInfo.BAD_MESSAGE_CHECK,
            "a RenewalReq must be signed by the certificate being renewed",
        )
    if request.signer.public_key_der != request.public_key.der:
        raise run.reject(
            "proof-of-possession",
            FailInfo.BAD_MESSAGE_CHECK,
            "the self-signed signer's key is not the requested key",
        )
    run.passed("proof-of-possession", "self-signed with the requested key")
    mode = config.allow_enrollment
    if mode is EnrollmentMode.VALIDSIGNATURE:
        raise run.reject(
            "allow-enrollment",
            FailInfo.BAD_REQUEST,
            "only requests signed by one of our certificates are accepted",
        )
    if mode is EnrollmentMode.NO and not inventory.find(request.subject, config.renewal_rdn_match):
        raise run.reject(
            "allow-enrollment",
            FailInfo.BAD_REQUEST,
            f"no certificate exists yet for {request.subject}",
        )
    run.passed("allow-enrollment", f"ScepAllowEnrollment {mode.value}")
    _challenge(run, request, required=config.require_challenge, waiver=None)
    _common_checks(run, request, config, inventory)
    # Only a checked challenge authorizes an issue without the operator: a request
    # that brought none (where none is required) waits for approval.
    auto = config.auto_approve_enrollment and request.challenge.accepted
    return _new_identity(run, request, config, auto=auto, why="ScepAutoApproveEnrollment")


def renewal(
    run: Run,
    request: RequestView,
    config: PolicyConfig,
    inventory: Inventory,
    now: datetime,
    record: InventoryRecord,
) -> Decision:
    signer = request.signer
    same_key = signer.public_key_der == request.public_key.der
    run.classification = Classification.RENEWAL if same_key else Classification.REKEY
    if not config.allow_renewal:
        raise run.reject("allow-renewal", FailInfo.BAD_REQUEST, "renewal is not allowed")
    run.passed("allow-renewal", "ScepAllowRenewal YES")
    if same_key and config.require_new_key:
        raise run.reject("new-key", FailInfo.BAD_REQUEST, "a renewal must use a new key")
    run.passed("new-key", "same key allowed" if same_key else "new key")
    _no_identity_drift(run, request, config)
    window = config.renewal_window
    auto = config.auto_approve
    if window is not None and signer.not_valid_after - now > window:
        detail = f"more than {window.days} days before the signer expires"
        if config.outside_window is OutsideWindow.REJECT:
            raise run.reject("renewal-window", FailInfo.BAD_REQUEST, detail)
        run.note("renewal-window", Outcome.INFO, detail + ": manual approval")
        auto = False
    else:
        run.passed("renewal-window", "inside the renewal window" if window else "no window set")
    waiver = "renewal authenticated by its signer" if config.waive_challenge_on_renewal else None
    _challenge(run, request, required=True, waiver=waiver)
    valid = _common_checks(run, request, config, inventory)
    role, ra = _inherited(run, valid or [record])
    return _approve(
        run,
        auto=auto,
        why="ScepAutoApprove",
        role=role,
        ra=ra,
        sans=_subject_alt_names(run, request, config),
    )


def _no_identity_drift(run: Run, request: RequestView, config: PolicyConfig) -> None:
    signer = request.signer
    if config.keep_subject_alt_name and request.subject_alt_names:
        old = set(signer.subject_alt_names)
        added = [san for san in request.subject_alt_names if san not in old]
        if added:
            raise run.reject(
                "identity-drift", FailInfo.BAD_REQUEST, f"the renewal adds subjectAltNames {added}"
            )
    if request.extended_key_usages is not None:
        old_ekus = signer.extended_key_usages
        if old_ekus is not None and not request.extended_key_usages <= old_ekus:
            raise run.reject(
                "identity-drift", FailInfo.BAD_REQUEST, "the renewal widens the extended key usage"
            )
    run.passed("identity-drift", "no new names or usages")


def _inherited(run: Run, records: Sequence[InventoryRecord]) -> tuple[str, str]:
    newest = max(records, key=lambda r: r.certificate.not_valid_before)
    run.note(
        "role",
        Outcome.INFO,
        f"inherited from serial {newest.certificate.serial_number}: "
        f"role {newest.role!r}, RA {newest.ra!r}",
    )
    return newest.role, newest.ra


def on_behalf(
    run: Run,
    request: RequestView,
    config: PolicyConfig,
    inventory: Inventory,
    *,
    waiver: str = "signed by an authorized enroller",
) -> Decision:
    """A request made for someone else: the subject is the CSR's, never the signer's."""
    run.classification = Classification.ON_BEHALF
    if config.allow_enrollment is EnrollmentMode.NO and not inventory.find(
        request.subject, config.renewal_rdn_match
    ):
        raise run.reject(
            "allow-enrollment",
            FailInfo.BAD_REQUEST,
            f"no certificate exists yet for {request.subject}",
        )
    run.passed("allow-enrollment", f"ScepAllowEnrollment {config.allow_enrollment.value}")
    _challenge(run, request, required=False, waiver=waiver)
    _common_checks(run, request, config, inventory)
    return _new_identity(
        run, request, config, auto=config.auto_approve, why="ScepAutoApprove (authorized enroller)"
    )

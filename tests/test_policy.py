"""The renewal/enrollment policy: decision table, properties, config, timing, independence."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from pyscep import Certificate, FailInfo, MessageType, PolicyConfigError
from pyscep.policy import (
    Action,
    CertificateStatus,
    ChallengeVerdict,
    Classification,
    DistinguishedName,
    EnrollmentMode,
    InMemoryInventory,
    InventoryRecord,
    OutsideWindow,
    PolicyConfig,
    PublicKeyView,
    RenewalState,
    RenewalThresholds,
    RequestView,
    check_renewal,
    evaluate,
    parse_scep_conf,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Party:
    key: Any
    certificate: Certificate

    @property
    def spki(self) -> bytes:
        return bytes(
            self.key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def _name(cn: str, o: str = "Example") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def party(
    cn: str,
    *,
    issuer: Party | None = None,
    key: Any = None,
    days: tuple[int, int] = (-30, 335),
    sans: tuple[str, ...] = (),
    ekus: tuple[x509.ObjectIdentifier, ...] = (),
    issuer_name: x509.Name | None = None,
    o: str = "Example",
    ca: bool = False,
) -> Party:
    """A certificate for ``cn``: self-signed, or issued by ``issuer``."""
    key = key or _key()
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, o))
        .issuer_name(
            issuer_name
            or (issuer.certificate.to_cryptography().subject if issuer else _name(cn, o))
        )
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + timedelta(days=days[0]))
        .not_valid_after(NOW + timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(s.split(":", 1)[1]) for s in sans]),
            critical=False,
        )
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=False)
    return Party(key, Certificate.load(builder.sign(signing_key, hashes.SHA256())))


CA = party("Example CA", ca=True, days=(-400, 3000))
OLD_CA = party("Example CA 2020", ca=True, days=(-3000, 400))
OTHER_CA = party("Someone else's CA", ca=True)
DEVICE = party("device-1", issuer=CA, ekus=(ExtendedKeyUsageOID.CLIENT_AUTH,))
ENROLLER = party("RA Operator", issuer=CA, o="Example RA")
NEW_KEY = _key()


def valid(
    p: Party, role: str = "VPN Server", ra: str = "Trustcenter", request_id: str | None = None
) -> InventoryRecord:
    return InventoryRecord(p.certificate, CertificateStatus.VALID, role, ra, request_id)


def revoked(p: Party) -> InventoryRecord:
    return InventoryRecord(p.certificate, CertificateStatus.REVOKED, "VPN Server", "Trustcenter")


def _verdict(challenge: bool | None) -> ChallengeVerdict:
    """The checker's verdict a test asks for: True accepted, False refused, None absent."""
    if challenge is None:
        return ChallengeVerdict.absent()
    if challenge:
        return ChallengeVerdict.accept("the challenge password checked out")
    return ChallengeVerdict.refuse("the challenge password is wrong")


def request(
    *,
    signer: Party = DEVICE,
    cn: str = "device-1",
    key: Any = NEW_KEY,
    kind: MessageType = MessageType.RENEWAL_REQ,
    signature: bool = True,
    challenge: bool | None = None,
    sans: tuple[str, ...] = (),
    ekus: frozenset[str] | None = None,
    transaction_id: str | None = "T-1",
) -> RequestView:
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return RequestView(
        message_type=kind,
        subject=DistinguishedName.from_der(_name(cn).public_bytes()),
        public_key=PublicKeyView.from_der(spki),
        signer=signer.certificate,
        signature_verified=signature,
        challenge=_verdict(challenge),
        subject_alt_names=sans,
        extended_key_usages=ekus,
        transaction_id=transaction_id,
    )


def initial(**kwargs: Any) -> RequestView:
    key = kwargs.pop("key", _key())
    self_signed = party(kwargs.get("cn", "new-device"), key=key)
    kwargs.setdefault("kind", MessageType.PKCS_REQ)
    return request(signer=self_signed, key=key, cn=kwargs.pop("cn", "new-device"), **kwargs)


def decide(
    view: RequestView,
    config: PolicyConfig | None = None,
    records: tuple[InventoryRecord, ...] = (valid(DEVICE), valid(ENROLLER)),
    cas: tuple[Party, ...] = (CA,),
    now: datetime = NOW,
) -> Any:
    return evaluate(
        view,
        config or PolicyConfig(),
        InMemoryInventory(records),
        [c.certificate for c in cas],
        now=now,
    )


AUTO = PolicyConfig(auto_approve=True)
EXPIRED = party("device-1", issuer=CA, days=(-400, -5))
NOT_YET = party("device-1", issuer=CA, days=(5, 400))
FOREIGN = party("device-1", issuer=OTHER_CA)
FORGED = party("device-1", issuer=OTHER_CA, issuer_name=CA.certificate.to_cryptography().subject)
FROM_OLD_CA = party("device-1", issuer=OLD_CA)
SAN_DEVICE = party("device-1", issuer=CA, sans=("dns_name:a.example",))

# (name, request, config, inventory, cas, now) -> (action, classification, failInfo, rule)
TABLE: list[
    tuple[str, Any, Any, Any, Any, Any, tuple[Action, Classification, FailInfo | None, str]]
] = [
    (
        "GetCert is not enrollment",
        request(kind=MessageType.GET_CERT),
        None,
        None,
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_REQUEST, "message-type"),
    ),
    (
        "UpdateReq default-deny",
        request(kind=MessageType.UPDATE_REQ),
        AUTO,
        None,
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_REQUEST, "message-type"),
    ),
    (
        "bad signature",
        request(signature=False),
        AUTO,
        None,
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_MESSAGE_CHECK, "signature"),
    ),
    (
        "#92 bad signature, revoked signer: same answer",
        request(signature=False),
        AUTO,
        (revoked(DEVICE),),
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_MESSAGE_CHECK, "signature"),
    ),
    (
        "weak key",
        request(key=rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        AUTO,
        None,
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_ALG, "key-size"),
    ),
    (
        "EC not allowed",
        request(key=ec.generate_private_key(ec.SECP256R1())),
        replace(AUTO, allowed_key_algorithms=frozenset({"RSA"})),
        None,
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_ALG, "key-algorithm"),
    ),
    (
        "initial with challenge: pending",
        initial(challenge=True),
        None,
        None,
        None,
        None,
        (Action.PENDING, Classification.INITIAL, None, "approval"),
    ),
    (
        "initial auto-approved",
        initial(challenge=True),
        PolicyConfig(auto_approve_enrollment=True),
        None,
        None,
        None,
        (Action.ISSUE, Classification.INITIAL, None, "approval"),
    ),
    (
        # Found by `pyscep demo`: auto-approval is for a checked challenge, not for none.
        "initial without a challenge none requires, auto-approval on: pending",
        initial(),
        PolicyConfig(auto_approve_enrollment=True, require_challenge=False),
        None,
        None,
        None,
        (Action.PENDING, Classification.INITIAL, None, "approval"),
    ),
    (
        "initial without challenge",
        initial(),
        None,
        None,
        None,
        None,
        (Action.REJECT, Classification.INITIAL, FailInfo.BAD_REQUEST, "challenge"),
    ),
    (
        "initial wrong challenge",
        initial(challenge=False),
        None,
        None,
        None,
        None,
        (Action.REJECT, Classification.INITIAL, FailInfo.BAD_REQUEST, "challenge"),
    ),
    (
        "initial, challenge not required",
        initial(),
        PolicyConfig(require_challenge=False),
        None,
        None,
        None,
        (Action.PENDING, Classification.INITIAL, None, "approval"),
    ),
    (
        "ScepAllowEnrollment NO, new DN",
        initial(challenge=True),
        PolicyConfig(allow_enrollment=EnrollmentMode.NO),
        None,
        None,
        None,
        (Action.REJECT, Classification.INITIAL, FailInfo.BAD_REQUEST, "allow-enrollment"),
    ),
    (
        "ScepAllowEnrollment NO, known DN",
        initial(challenge=True, cn="device-1"),
        PolicyConfig(allow_enrollment=EnrollmentMode.NO),
        None,
        None,
        None,
        (Action.PENDING, Classification.INITIAL, None, "approval"),
    ),
    (
        "VALIDSIGNATURE refuses self-signed",
        initial(challenge=True),
        PolicyConfig(allow_enrollment=EnrollmentMode.VALIDSIGNATURE),
        None,
        None,
        None,
        (Action.REJECT, Classification.INITIAL, FailInfo.BAD_REQUEST, "allow-enrollment"),
    ),
    (
        "#75 self-signed signer with another key",
        request(
            signer=party("new-device"), cn="new-device", kind=MessageType.PKCS_REQ, challenge=True
        ),
        None,
        None,
        None,
        None,
        (Action.REJECT, Classification.INITIAL, FailInfo.BAD_MESSAGE_CHECK, "proof-of-possession"),
    ),
    (
        "#90 unauthenticated RenewalReq",
        initial(kind=MessageType.RENEWAL_REQ, challenge=True),
        AUTO,
        None,
        None,
        None,
        (
            Action.REJECT,
            Classification.INITIAL,
            FailInfo.BAD_MESSAGE_CHECK,
            "renewal-authentication",
        ),
    ),
    (
        "renewal (re-key): pending by default",
        request(),
        None,
        None,
        None,
        None,
        (Action.PENDING, Classification.REKEY, None, "approval"),
    ),
    (
        "renewal auto-approved",
        request(),
        AUTO,
        None,
        None,
        None,
        (Action.ISSUE, Classification.REKEY, None, "approval"),
    ),
    (
        "#89 implicit renewal: PKCSReq signed by our cert",
        request(kind=MessageType.PKCS_REQ),
        AUTO,
        None,
        None,
        None,
        (Action.ISSUE, Classification.REKEY, None, "approval"),
    ),
    (
        "ScepAllowRenewal NO",
        request(),
        replace(AUTO, allow_renewal=False),
        None,
        None,
        None,
        (Action.REJECT, Classification.REKEY, FailInfo.BAD_REQUEST, "allow-renewal"),
    ),
    (
        "#88 key reuse refused",
        request(key=DEVICE.key),
        AUTO,
        None,
        None,
        None,
        (Action.REJECT, Classification.RENEWAL, FailInfo.BAD_REQUEST, "new-key"),
    ),
    (
        "key reuse allowed",
        request(key=DEVICE.key),
        replace(AUTO, require_new_key=False),
        None,
        None,
        None,
        (Action.ISSUE, Classification.RENEWAL, None, "approval"),
    ),
    (
        "#84 signer from another CA",
        request(signer=FOREIGN),
        AUTO,
        (valid(FOREIGN),),
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_CERT_ID, "signer-provenance"),
    ),
    (
        "#93 forged issuer name",
        request(signer=FORGED),
        AUTO,
        (valid(FORGED),),
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_CERT_ID, "signer-provenance"),
    ),
    (
        "#85 revoked signer",
        request(),
        AUTO,
        (revoked(DEVICE),),
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_CERT_ID, "signer-status"),
    ),
    (
        "signer unknown to the inventory",
        request(),
        AUTO,
        (),
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_CERT_ID, "signer-status"),
    ),
    (
        "#85 expired signer",
        request(signer=EXPIRED),
        AUTO,
        (valid(EXPIRED),),
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_CERT_ID, "signer-validity"),
    ),
    (
        "expired signer within grace",
        request(signer=EXPIRED),
        replace(AUTO, expired_signer_grace=timedelta(days=7)),
        (valid(EXPIRED),),
        None,
        None,
        (Action.ISSUE, Classification.REKEY, None, "approval"),
    ),
    (
        "#85 signer not yet valid",
        request(signer=NOT_YET),
        AUTO,
        (valid(NOT_YET),),
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_TIME, "signer-validity"),
    ),
    (
        "#87 identity drift: other subject",
        request(cn="admin"),
        AUTO,
        None,
        None,
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_REQUEST, "identity"),
    ),
    (
        "on behalf, authorized enroller",
        request(signer=ENROLLER, cn="printer-9", kind=MessageType.PKCS_REQ),
        replace(AUTO, on_behalf_enrollers=("CN=RA *, O=Example RA, C=DE",)),
        None,
        None,
        None,
        (Action.ISSUE, Classification.ON_BEHALF, None, "approval"),
    ),
    (
        "#86 renewal too early",
        request(),
        replace(AUTO, renewal_window=timedelta(days=30)),
        None,
        None,
        None,
        (Action.REJECT, Classification.REKEY, FailInfo.BAD_REQUEST, "renewal-window"),
    ),
    (
        "renewal too early, PENDING by policy",
        request(),
        replace(AUTO, renewal_window=timedelta(days=30), outside_window=OutsideWindow.PENDING),
        None,
        None,
        None,
        (Action.PENDING, Classification.REKEY, None, "approval"),
    ),
    (
        "renewal too early, PENDING by policy, challenge not waived",
        request(),
        replace(
            AUTO,
            renewal_window=timedelta(days=30),
            outside_window=OutsideWindow.PENDING,
            waive_challenge_on_renewal=False,
        ),
        None,
        None,
        None,
        (Action.REJECT, Classification.REKEY, FailInfo.BAD_REQUEST, "challenge"),
    ),
    (
        "renewal inside the window",
        request(),
        replace(AUTO, renewal_window=timedelta(days=400)),
        None,
        None,
        None,
        (Action.ISSUE, Classification.REKEY, None, "approval"),
    ),
    (
        "#91 wrong challenge on a valid renewal",
        request(challenge=False),
        AUTO,
        None,
        None,
        None,
        (Action.REJECT, Classification.REKEY, FailInfo.BAD_REQUEST, "challenge"),
    ),
    (
        "renewal, challenge not waived",
        request(),
        replace(AUTO, waive_challenge_on_renewal=False),
        None,
        None,
        None,
        (Action.REJECT, Classification.REKEY, FailInfo.BAD_REQUEST, "challenge"),
    ),
    (
        "#95 double renewal: max valid certificates",
        request(),
        AUTO,
        (valid(DEVICE), valid(party("device-1", issuer=CA))),
        None,
        None,
        (Action.REJECT, Classification.REKEY, FailInfo.BAD_REQUEST, "max-valid-certificates"),
    ),
    (
        "#67 replayed transaction",
        request(transaction_id="T-9"),
        AUTO,
        (valid(DEVICE, request_id="T-9"),),
        None,
        None,
        (Action.REJECT, Classification.REKEY, FailInfo.BAD_REQUEST, "duplicate-transaction"),
    ),
    (
        "#87 renewal adds a SAN",
        request(signer=SAN_DEVICE, sans=("dns_name:b.example",)),
        replace(AUTO, keep_subject_alt_name=True),
        (valid(SAN_DEVICE),),
        None,
        None,
        (Action.REJECT, Classification.REKEY, FailInfo.BAD_REQUEST, "identity-drift"),
    ),
    (
        "#87 renewal widens EKU",
        request(ekus=frozenset({"client_auth", "server_auth"})),
        AUTO,
        None,
        None,
        None,
        (Action.REJECT, Classification.REKEY, FailInfo.BAD_REQUEST, "identity-drift"),
    ),
    (
        "#94 rollover: old CA configured",
        request(signer=FROM_OLD_CA),
        AUTO,
        (valid(FROM_OLD_CA),),
        (CA, OLD_CA),
        None,
        (Action.ISSUE, Classification.REKEY, None, "approval"),
    ),
    (
        "#94 rollover: old CA not configured",
        request(signer=FROM_OLD_CA),
        AUTO,
        (valid(FROM_OLD_CA),),
        (CA,),
        None,
        (Action.REJECT, Classification.UNCLASSIFIED, FailInfo.BAD_CERT_ID, "signer-provenance"),
    ),
]


@pytest.mark.parametrize(
    ("name", "view", "config", "records", "cas", "now", "expected"),
    TABLE,
    ids=[row[0] for row in TABLE],
)
def test_decision_table(
    name: str,
    view: RequestView,
    config: Any,
    records: Any,
    cas: Any,
    now: Any,
    expected: tuple[Any, ...],
) -> None:
    kwargs: dict[str, Any] = {}
    if records is not None:
        kwargs["records"] = records
    if cas is not None:
        kwargs["cas"] = cas
    decision = decide(view, config, **kwargs)
    got = (decision.action, decision.classification, decision.fail_info, decision.deciding_rule)
    assert got == expected, [e.as_dict() for e in decision.trace]
    if decision.action is Action.REJECT:
        assert decision.fail_info_text == decision.trace[-1].detail


def test_renewal_inherits_role_and_ra_from_newest() -> None:
    newer = party("device-1", issuer=CA, days=(-10, 355))
    decision = decide(
        request(),
        AUTO,
        records=(valid(DEVICE, "Old Role", "RA 1"), valid(newer, "New Role", "RA 2")),
    )
    assert decision.action is Action.REJECT  # two valid already: max-valid, so relax it
    decision = decide(
        request(),
        replace(AUTO, max_valid_certificates=3),
        records=(valid(DEVICE, "Old Role", "RA 1"), valid(newer, "New Role", "RA 2")),
    )
    assert (decision.role, decision.ra) == ("New Role", "RA 2")


def test_new_enrollments_get_defaults_and_san_handling() -> None:
    sans = ("dns_name:new.example",)
    config = PolicyConfig(
        auto_approve_enrollment=True, default_role="Web Server", default_ra="Trustcenter itself"
    )
    dropped = decide(initial(challenge=True, sans=sans), config)
    assert (dropped.role, dropped.ra, dropped.subject_alt_names) == (
        "Web Server",
        "Trustcenter itself",
        (),
    )
    kept = decide(initial(challenge=True, sans=sans), replace(config, keep_subject_alt_name=True))
    assert kept.subject_alt_names == sans


def test_rdn_match_configures_identity() -> None:
    # Same CN, other O: the same identity only when matching on CN alone.
    other_o = party("device-1", issuer=CA, o="Elsewhere")
    view = request(signer=other_o)
    assert decide(view, AUTO, records=(valid(other_o),)).action is Action.ISSUE
    strict = replace(AUTO, renewal_rdn_match=("CN", "O", "C"))
    assert decide(view, strict, records=(valid(other_o),)).deciding_rule == "identity"


def test_decision_serializes_to_json() -> None:
    import json

    data = decide(request(), AUTO).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert {"decision", "classification", "failInfo", "role", "ra", "trace"} <= set(data)
    assert all(set(entry) == {"rule", "outcome", "detail"} for entry in data["trace"])


# --- properties -------------------------------------------------------------------

BAD_SIGNERS = [
    (EXPIRED, (valid(EXPIRED),)),
    (NOT_YET, (valid(NOT_YET),)),
    (FOREIGN, (valid(FOREIGN),)),
    (FORGED, (valid(FORGED),)),
    (DEVICE, (revoked(DEVICE),)),
    (DEVICE, ()),
]


configs = st.builds(
    PolicyConfig,
    allow_enrollment=st.sampled_from(EnrollmentMode),
    allow_renewal=st.booleans(),
    auto_approve=st.booleans(),
    auto_approve_enrollment=st.booleans(),
    keep_subject_alt_name=st.booleans(),
    require_challenge=st.booleans(),
    waive_challenge_on_renewal=st.booleans(),
    require_new_key=st.booleans(),
    max_valid_certificates=st.integers(1, 4),
    on_behalf_enrollers=st.sampled_from([(), ("CN=*",)]),
    outside_window=st.sampled_from(OutsideWindow),
    renewal_window=st.sampled_from([None, timedelta(days=30)]),
)


@settings(max_examples=150, deadline=None)
@given(
    config=configs,
    kind=st.sampled_from(MessageType),
    challenge=st.sampled_from([None, True, False]),
    bad=st.integers(0, len(BAD_SIGNERS)),
)
def test_never_issues_when_signature_or_signer_is_invalid(
    config: PolicyConfig, kind: MessageType, challenge: bool | None, bad: int
) -> None:
    if bad == len(BAD_SIGNERS):  # a good signer, but the signature failed
        decision = decide(request(kind=kind, challenge=challenge, signature=False), config)
    else:
        signer, records = BAD_SIGNERS[bad]
        decision = decide(
            request(signer=signer, kind=kind, challenge=challenge), config, records=records
        )
    assert decision.action is not Action.ISSUE


@settings(max_examples=150, deadline=None)
@given(
    config=configs,
    kind=st.sampled_from(MessageType),
    challenge=st.sampled_from([None, True, False]),
    signer=st.sampled_from([DEVICE, ENROLLER, EXPIRED, FOREIGN]),
    self_signed=st.booleans(),
)
def test_trace_always_names_the_deciding_rule(
    config: PolicyConfig,
    kind: MessageType,
    challenge: bool | None,
    signer: Party,
    self_signed: bool,
) -> None:
    view = (
        initial(kind=kind, challenge=challenge)
        if self_signed
        else request(signer=signer, kind=kind, challenge=challenge)
    )
    decision = decide(view, config, records=(valid(DEVICE), valid(ENROLLER), valid(EXPIRED)))
    last = decision.trace[-1]
    assert decision.deciding_rule == last.rule
    if decision.action is Action.REJECT:
        assert last.outcome.value == "fail"
        assert decision.fail_info is not None
    else:
        assert last.rule == "approval"
        assert all(entry.outcome.value != "fail" for entry in decision.trace)


@settings(max_examples=200, deadline=None)
@given(
    days=st.none() | st.floats(0, 400),
    percent=st.none() | st.floats(1, 99),
    jitter=st.integers(0, 20),
    first=st.integers(-500, 500),
    later=st.integers(0, 500),
)
def test_client_renewal_state_is_monotonic_in_time(
    days: float | None, percent: float | None, jitter: int, first: int, later: int
) -> None:
    if days is None and percent is None:
        days = 30
    thresholds = RenewalThresholds(days=days, percent=percent, jitter=timedelta(days=jitter))
    t1 = NOW + timedelta(days=first)
    t2 = t1 + timedelta(days=later)
    s1 = check_renewal(DEVICE.certificate, thresholds, now=t1)
    s2 = check_renewal(DEVICE.certificate, thresholds, now=t2)
    assert s1.state <= s2.state
    assert s1.next_check >= t1
    assert s1.renew_at <= DEVICE.certificate.not_valid_after


def test_client_renewal_states_and_request_type() -> None:
    cert = DEVICE.certificate  # valid from NOW-30d to NOW+335d: lifetime 365 days
    thresholds = RenewalThresholds(days=30, percent=10)  # 10% = 36.5 days: the larger lead
    end = cert.not_valid_after
    assert check_renewal(cert, thresholds, now=NOW).state is RenewalState.NOT_DUE
    assert check_renewal(cert, thresholds, now=NOW).next_check == end - timedelta(days=36.5)
    due = check_renewal(cert, thresholds, now=end - timedelta(days=30))
    assert due.state is RenewalState.DUE
    assert check_renewal(cert, thresholds, now=end - timedelta(days=10)).state is (
        RenewalState.OVERDUE
    )
    assert check_renewal(cert, thresholds, now=end).state is RenewalState.EXPIRED
    assert due.request_type is MessageType.PKCS_REQ
    assert (
        check_renewal(cert, thresholds, now=NOW, ca_capabilities=["renewal", "AES"]).request_type
        is MessageType.RENEWAL_REQ
    )
    with pytest.raises(PolicyConfigError):
        RenewalThresholds(days=None, percent=None)


def test_jitter_is_deterministic_and_bounded() -> None:
    thresholds = RenewalThresholds(days=30, percent=None, jitter=timedelta(days=10))
    first = check_renewal(DEVICE.certificate, thresholds, now=NOW)
    assert first == check_renewal(DEVICE.certificate, thresholds, now=NOW)
    end = DEVICE.certificate.not_valid_after
    assert end - timedelta(days=40) <= first.renew_at <= end - timedelta(days=30)


# --- scep.conf ----------------------------------------------------------------------

OPENCA_CONF = """
# OpenCA etc/servers/scep.conf
ScepAllowEnrollment        "VALIDSIGNATURE"
ScepAllowRenewal           "YES"
ScepAutoApprove            "YES"    # renewals go through
ScepKeepSubjectAltName     "NO"
ScepDefaultRole            "VPN Server"
ScepDefaultRA              "Trustcenter itself"
ScepRenewalRDNMatch        "CN,O,C"
ScepRenewalWindowDays      "30"
ScepOnBehalfEnrollers      "CN=*, O=Example RA, C=DE; CN=Backup RA"
"""


def test_parse_openca_conf() -> None:
    config = parse_scep_conf(OPENCA_CONF)
    assert config.allow_enrollment is EnrollmentMode.VALIDSIGNATURE
    assert config.allow_renewal
    assert config.auto_approve
    assert not config.keep_subject_alt_name
    assert (config.default_role, config.default_ra) == ("VPN Server", "Trustcenter itself")
    assert config.renewal_rdn_match == ("CN", "O", "C")
    assert config.renewal_window == timedelta(days=30)
    assert config.on_behalf_enrollers == ("CN=*, O=Example RA, C=DE", "CN=Backup RA")
    assert config.max_valid_certificates == 2  # OpenCA's two, by default


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('ScepAllowRenewal "YES"\nScepAlowEnrollment "YES"', "line 2: unknown key"),
        ('ScepAllowRenewal "MAYBE"', "line 1: ScepAllowRenewal"),
        ('ScepAllowEnrollment "SOMETIMES"', "line 1: ScepAllowEnrollment"),
        ("ScepAllowRenewal YES", "line 1: expected"),
        ('\n\nScepMaxValidCertificates "0"', "line 3"),
        ('ScepRenewalRDNMatch "CN,,"', "line 1"),
        ('ScepAllowRenewal "YES"\nScepAllowRenewal "NO"', "already set on line 1"),
        ('ScepRenewalWindowDays "-3"', "line 1"),
    ],
)
def test_bad_conf_names_the_line(text: str, message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        parse_scep_conf(text)


# --- independence ---------------------------------------------------------------------

FORBIDDEN = ("pyscep.messages", "pyscep.cms", "pyscep._asn1", "pyscep.inspect", "pyscep.http")


def test_policy_imports_nothing_from_the_message_layer() -> None:
    package = Path(__file__).resolve().parents[1] / "src" / "pyscep" / "policy"
    imported = set()
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module if node.level == 0 else f".{node.module}")
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert imported  # the walk found the imports
    assert not [m for m in imported if m.startswith(FORBIDDEN) or m.startswith("..")]
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, pyscep.policy; print(sorted(m for m in sys.modules "
            "if m.startswith(('pyscep.messages', 'pyscep.cms', 'pyscep._asn1'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_hostile_signer_certificates_end_in_a_decision(data: st.DataObject) -> None:
    """A mutated signer certificate (attacker-controlled) never escapes, never ISSUEs."""
    from pyscep import ScepError

    der = bytearray(DEVICE.certificate.der)
    for _ in range(data.draw(st.integers(1, 3))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    try:
        signer = Certificate.load(bytes(der))
    except ScepError:
        return
    view = replace(request(), signer=signer)
    decision = decide(view, AUTO, records=(InventoryRecord(signer, CertificateStatus.VALID),))
    if bytes(der) != DEVICE.certificate.der:
        assert decision.action is not Action.ISSUE


def _signer_view(signer: Party, kind: MessageType = MessageType.RENEWAL_REQ) -> Any:
    from pyscep.policy import SignerView

    return SignerView(kind, signer.certificate, True)


@pytest.mark.parametrize(
    ("view", "records", "rule"),
    [
        (lambda: _signer_view(DEVICE, MessageType.GET_CERT), (), "message-type"),
        (lambda: _signer_view(party("stranger", issuer=OTHER_CA)), (), "signer-provenance"),
        (lambda: _signer_view(DEVICE), (revoked(DEVICE),), "signer-status"),
        (lambda: _signer_view(DEVICE), (), "signer-status"),  # not in the inventory
        (lambda: _signer_view(EXPIRED), (valid(EXPIRED),), "signer-validity"),
        (lambda: _signer_view(DEVICE), (valid(DEVICE),), None),  # needs the CSR
        (lambda: _signer_view(party("first-time")), (), None),  # self-signed: needs the CSR
    ],
)
def test_what_is_decided_before_decrypting(
    view: Any, records: tuple[Any, ...], rule: str | None
) -> None:
    from pyscep.policy import decide_before_decrypting

    decision = decide_before_decrypting(
        view(), PolicyConfig(), InMemoryInventory(records), [CA.certificate], now=NOW
    )
    if rule is None:
        assert decision is None
    else:
        assert decision is not None
        assert decision.action is Action.REJECT
        assert decision.trace[-1].rule == rule


BRIDGE = party("EST bridge", issuer=OTHER_CA, o="Bridge")  # not issued by our CA


def test_a_trusted_ra_authorizes_requests_for_others_by_its_fingerprint() -> None:
    view = request(signer=BRIDGE, cn="printer-9", kind=MessageType.PKCS_REQ)
    # Unknown to the policy: a certificate of someone else's CA.
    refused = decide(view, AUTO)
    assert (refused.action, refused.trace[-1].rule) == (Action.REJECT, "signer-provenance")
    trusting = replace(AUTO, trusted_ras=frozenset({BRIDGE.certificate.sha256_fingerprint.hex()}))
    decision = decide(view, trusting)
    assert decision.action is Action.ISSUE
    assert decision.classification is Classification.ON_BEHALF
    assert "trusted-ra" in [entry.rule for entry in decision.trace]
    # The RA vouches; the CSR decides the rest, so nothing is decided before decrypting.
    from pyscep.policy import SignerView, decide_before_decrypting

    early = decide_before_decrypting(
        SignerView(MessageType.PKCS_REQ, BRIDGE.certificate, True),
        trusting,
        InMemoryInventory(),
        [CA.certificate],
        now=NOW,
    )
    assert early is None


def test_trusted_ra_fingerprints_are_read_from_scep_conf() -> None:
    fingerprint = BRIDGE.certificate.sha256_fingerprint.hex()
    colons = ":".join(fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    config = parse_scep_conf(f'ScepTrustedRA "{colons}; {fingerprint}"\n')
    assert config.trusted_ras == frozenset({fingerprint})
    with pytest.raises(PolicyConfigError, match="line 1"):
        parse_scep_conf('ScepTrustedRA "CN=Bridge"\n')


def _microsoft_csr(pairs: tuple[tuple[str, str], ...], template: str | None) -> bytes:
    """A CSR with enrollmentNameValuePair attributes and a certificate-template name, as
    Windows writes them (raw DER: the signature is not what this test is about)."""
    from asn1crypto import core

    from pyscep._der import der_length

    def tlv(tag: int, body: bytes) -> bytes:
        return bytes([tag]) + der_length(len(body)) + body

    key = _key()
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    attributes = b""
    for name, value in pairs:
        pair = tlv(0x30, core.BMPString(name).dump() + core.BMPString(value).dump())
        oid = core.ObjectIdentifier("1.3.6.1.4.1.311.13.2.1").dump()
        attributes += tlv(0x30, oid + tlv(0x31, pair))
    if template is not None:
        extension = tlv(
            0x30,
            core.ObjectIdentifier("1.3.6.1.4.1.311.20.2").dump()
            + core.OctetString(core.BMPString(template).dump()).dump(),
        )
        oid = core.ObjectIdentifier("1.2.840.113549.1.9.14").dump()
        attributes += tlv(0x30, oid + tlv(0x31, tlv(0x30, extension)))
    info = tlv(
        0x30,
        core.Integer(0).dump() + _name("ms-device").public_bytes() + spki + tlv(0xA0, attributes),
    )
    algorithm = tlv(0x30, core.ObjectIdentifier("1.2.840.113549.1.1.11").dump() + b"\x05\x00")
    return tlv(0x30, info + algorithm + tlv(0x03, b"\x00" * 257))


def test_microsoft_validity_and_template_are_offered_to_the_policy() -> None:
    from pyscep.messages import CertificationRequest

    parsed = CertificationRequest.load(
        _microsoft_csr((("ValidityPeriod", "Years"), ("ValidityPeriodUnits", "2")), "WebServer")
    )
    assert parsed.name_value_pairs == (("ValidityPeriod", "Years"), ("ValidityPeriodUnits", "2"))
    assert parsed.requested_validity == timedelta(days=730)
    assert parsed.certificate_template == "WebServer"
    view = replace(
        initial(challenge=True),
        requested_validity=parsed.requested_validity,
        certificate_template=parsed.certificate_template,
    )
    plain = decide(view, replace(AUTO, auto_approve_enrollment=True))
    assert (plain.validity, plain.role) == (None, "")  # honoured only if the config says so
    honouring = replace(
        AUTO,
        auto_approve_enrollment=True,
        honour_requested_validity=True,
        maximum_validity=timedelta(days=365),
        role_from_template=True,
    )
    decided = decide(view, honouring)
    assert decided.action is Action.ISSUE
    assert decided.validity == timedelta(days=365)  # capped by the CA's maximum
    assert decided.role == "WebServer"
    assert decided.deciding_rule == "approval"
    assert [e.rule for e in decided.trace][-3:] == ["validity", "template", "approval"]


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ((("ValidityPeriod", "Weeks"), ("ValidityPeriodUnits", "3")), timedelta(days=21)),
        ((("validityperiod", "days"), ("ValidityPeriodUnits", " 10 ")), timedelta(days=10)),
        ((("ValidityPeriod", "Fortnights"), ("ValidityPeriodUnits", "1")), None),
        ((("ValidityPeriod", "Years"), ("ValidityPeriodUnits", "-1")), None),
        ((("ValidityPeriod", "Years"),), None),
        ((), None),
    ],
)
def test_requested_validity_is_read_strictly(
    pairs: tuple[tuple[str, str], ...], expected: timedelta | None
) -> None:
    from pyscep.messages import CertificationRequest

    assert CertificationRequest.load(_microsoft_csr(pairs, None)).requested_validity == expected


@settings(max_examples=200, deadline=None)
@given(
    config=configs,
    kind=st.sampled_from(MessageType),
    challenge=st.sampled_from([None, False]),
)
def test_never_issues_a_first_enrollment_without_a_valid_challenge(
    config: PolicyConfig, kind: MessageType, challenge: bool | None
) -> None:
    # A self-signed signer (no trusted RA, no certificate of ours): only a challenge
    # that checked out can lead to ISSUE when the config requires one.
    decision = decide(
        initial(kind=kind, challenge=challenge), replace(config, require_challenge=True)
    )
    assert decision.action is not Action.ISSUE
    # And a present-but-wrong challenge is refused even when none is required.
    if challenge is False:
        wrong = decide(
            initial(kind=kind, challenge=False), replace(config, require_challenge=False)
        )
        assert wrong.action is not Action.ISSUE


@pytest.mark.parametrize(
    ("make_key", "described"),
    [(_key, ("RSA", 2048)), (lambda: ec.generate_private_key(ec.SECP256R1()), ("EC", 256))],
)
def test_a_key_view_of_a_read_key_is_the_view_of_its_der(
    make_key: Any, described: tuple[str, int]
) -> None:
    """`PublicKeyView.of` describes a key already read as `from_der` describes its DER."""
    from pyscep.public_key import PublicKey

    spki = (
        make_key()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    view = PublicKeyView.of(PublicKey.load(spki))
    assert view == PublicKeyView.from_der(spki)
    assert (view.der, view.algorithm, view.bits) == (spki, *described)

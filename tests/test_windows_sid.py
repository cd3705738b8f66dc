"""Strong certificate mapping without spoofing (issue 23, part 2).

A certificate carrying a Windows account SID logs in as that account (KB5014754).
The 2025 attack: a device asks for someone else's SID and the server copies it.
Here a SID a request asks for, in either form, never reaches a certificate: it is
stripped (or the request refused) with a finding and a trace line; only a SID a
trusted source vouches for (a one-time challenge bound to it, a renewed
certificate this CA wrote) is written, in both forms Windows reads.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

import pyscep
from pyscep import FindingCode, KeyPair, LocalProtocolError, PKIStatus
from pyscep.messages import (
    CertificationRequest,
    build_csr,
    build_pkcs_req,
    issue_certificate,
    open_cert_rep,
    self_signed_signer,
)
from pyscep.policy import (
    Action,
    ChallengeVerdict,
    PolicyConfig,
    RequestedSid,
    evaluate,
    parse_scep_conf,
)
from pyscep.policy.inputs import InMemoryInventory
from pyscep.protocol.challenges import InMemoryChallenges, OneTimeChallenges
from pyscep.server import ReferenceServer, ServeConfigError, ServeOptions, check_options
from pyscep.server.operator import Operator
from pyscep.server.stores.sqlite import SqliteStore
from pyscep.sid import (
    SID_EXTENSION_OID,
    SID_URI_PREFIX,
    UNREADABLE_SID,
    VouchedSid,
    check_sid,
    sid_extension_value,
    sid_of_subject_alt_name,
    sids_in_general_names,
)
from pyscep.testing import make_identity
from tests.support.helpers import NOW, current_time, openssl, pem_key
from tests.support.served import CHALLENGE, run_pyscep

VICTIM = "S-1-5-21-1004336348-1177238915-682003330-500"  # a domain administrator
DEVICE = "S-1-5-21-1004336348-1177238915-682003330-4242"


def _now() -> datetime:
    return datetime.now(timezone.utc)  # the server reads the clock


# --- the SID and its two encodings ----------------------------------------------------


@pytest.mark.parametrize(
    "text", ["S-1-5-18", "S-1-0-0", VICTIM, "S-1-0x00000000000A-4294967295", "S-1-4294967295"]
)
def test_sids_that_exist_are_accepted(text: str) -> None:
    assert check_sid(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "S-1",
        "S-2-5-18",
        "s-1-5-18",
        "S-1-5-18-",
        "S-1-4294967296",  # an authority over 32 bits must be written in hex
        "S-1-5-4294967296",  # a sub-authority over 32 bits
        "S-1-5" + "-1" * 16,  # 16 sub-authorities: 15 at most
        "S-1-5-18\n",
        "S-1-5-18 OR 1=1",
    ],
)
def test_what_is_not_a_sid_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a SID"):
        check_sid(text)


@pytest.mark.external
def test_the_sid_extension_is_what_openssl_reads_as_ad_cs_writes_it(tmp_path: Path) -> None:
    value = sid_extension_value(VICTIM)
    (tmp_path / "v.der").write_bytes(value)
    parsed = openssl(["asn1parse", "-inform", "DER", "-in", str(tmp_path / "v.der")]).decode()
    # GeneralNames { otherName [0] { type-id, [0] EXPLICIT OCTET STRING "S-1-..." } }
    assert ":1.3.6.1.4.1.311.25.2.1" in parsed
    assert f"OCTET STRING      :{VICTIM}" in parsed
    shapes = re.findall(r"(cons|prim): (\w+)", parsed)
    assert shapes == [
        ("cons", "SEQUENCE"),
        ("cons", "cont"),
        ("prim", "OBJECT"),
        ("cons", "cont"),
        ("prim", "OCTET"),
    ]
    assert sids_in_general_names(value) == (VICTIM,)


def test_both_forms_are_read_and_the_uri_prefix_whatever_its_case() -> None:
    assert (
        sid_of_subject_alt_name(f"uniform_resource_identifier:{SID_URI_PREFIX}{VICTIM}") == VICTIM
    )
    upper = f"uniform_resource_identifier:TAG:Microsoft.com,2022-09-14:SID:{VICTIM}"
    assert sid_of_subject_alt_name(upper) == VICTIM
    assert sid_of_subject_alt_name("uniform_resource_identifier:https://id.example/7") is None
    assert sid_of_subject_alt_name(f"dns_name:{SID_URI_PREFIX}{VICTIM}") is None


# --- requests: a SID asked for is read and reported -----------------------------------


def _key(name: str) -> pyscep.PrivateKey:
    return pyscep.load_private_key(make_identity(name, now=NOW).key_der)


REQUESTER = _key("requester")
CA = make_identity("Windows CA", now=NOW, ca=True)


def _csr_asking(
    sid: str, *, form: str, challenge: str = CHALLENGE, key: pyscep.PrivateKey = REQUESTER
) -> CertificationRequest:
    """A CSR for CN=laptop-17 asking for ``sid`` in ``form`` (``uri``, ``extension``;
    ``none`` asks for none)."""
    if form == "uri":
        return build_csr(
            key,
            "CN=laptop-17",
            challenge_password=challenge,
            subject_alt_names=[
                "dns_name:laptop-17.corp.example",
                f"uniform_resource_identifier:{SID_URI_PREFIX}{sid}",
            ],
        )
    extensions = [(SID_EXTENSION_OID, False, sid_extension_value(sid))] if form != "none" else []
    return build_csr(key, "CN=laptop-17", challenge_password=challenge, extensions=extensions)


@pytest.mark.parametrize("form", ["uri", "extension"])
def test_a_request_asking_for_a_sid_says_so(form: str) -> None:
    request = _csr_asking(VICTIM, form=form)
    assert request.requested_sids == (VICTIM,)
    where = "a subjectAltName URI" if form == "uri" else "the SID extension"
    assert [(f.code, f.detail) for f in request.findings] == [
        (FindingCode.REQUESTED_SID, f"the request asks for SID {VICTIM!r} in {where}")
    ]


@pytest.mark.external
def test_inspect_shows_the_sids_a_request_asks_for_and_a_certificate_carries(
    tmp_path: Path,
) -> None:
    # pyscep inspect reads the clock: material made now (the tests' NOW may be far off).
    now = current_time()
    ca = make_identity("Windows CA", now=now, ca=True)
    request = _csr_asking(VICTIM, form="extension")
    signer = self_signed_signer(REQUESTER, "CN=laptop-17", now=now)
    built = build_pkcs_req(request, signer=signer, recipient=ca.certificate)
    (tmp_path / "req.der").write_bytes(built.der)
    (tmp_path / "ca.key").write_bytes(pem_key(ca))
    shown = run_pyscep(
        "inspect", "--json", "--key", str(tmp_path / "ca.key"), str(tmp_path / "req.der")
    )
    inner = json.loads(shown.stdout)["inner"]
    assert inner["requested_sids"] == [VICTIM]
    (extension,) = [e for e in inner["extension_request"] if e["id"] == SID_EXTENSION_OID]
    assert extension["value"] == {"sids": [VICTIM]}
    issued = issue_certificate(
        ca.signer, request, now=now, vouched_sid=VouchedSid(DEVICE, "the directory")
    )
    (tmp_path / "cert.der").write_bytes(issued.der)
    shown = run_pyscep("inspect", "--json", str(tmp_path / "cert.der"))
    assert json.loads(shown.stdout)["ca_certificates"][0]["sids"] == [DEVICE, DEVICE]


# --- issuing: only a vouched SID, in both forms ---------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        f"uniform_resource_identifier:{SID_URI_PREFIX}{VICTIM}",
        f"uniform_resource_identifier:TAG:MICROSOFT.COM,2022-09-14:SID:{VICTIM}",
    ],
)
def test_a_sid_cannot_be_passed_along_as_a_name(name: str) -> None:
    request = _csr_asking(VICTIM, form="uri")
    with pytest.raises(LocalProtocolError, match="only as vouched_sid"):
        issue_certificate(CA.signer, request, now=NOW, subject_alt_names=[name])


@pytest.mark.external
def test_a_vouched_sid_is_written_in_both_forms(tmp_path: Path) -> None:
    request = _csr_asking(VICTIM, form="uri")
    issued = issue_certificate(
        CA.signer,
        request,
        now=NOW,
        subject_alt_names=["dns_name:laptop-17.corp.example"],
        vouched_sid=VouchedSid(DEVICE, "the directory"),
    )
    assert issued.sids == (DEVICE, DEVICE)  # the URI, then the extension
    parsed = issued.to_cryptography()
    names = parsed.extensions.get_extension_for_class(cx509.SubjectAlternativeName).value
    assert names.get_values_for_type(cx509.UniformResourceIdentifier) == [
        f"{SID_URI_PREFIX}{DEVICE}"
    ]
    extension = parsed.extensions.get_extension_for_oid(cx509.ObjectIdentifier(SID_EXTENSION_OID))
    assert not extension.critical
    text = openssl(["x509", "-noout", "-text"], parsed.public_bytes(Encoding.PEM)).decode()
    assert f"URI:{SID_URI_PREFIX}{DEVICE}" in text
    assert "1.3.6.1.4.1.311.25.2:" in text
    assert VICTIM not in text


def test_a_vouched_sid_must_be_a_sid_and_say_who_vouches() -> None:
    with pytest.raises(ValueError, match="not a SID"):
        VouchedSid("S-1-5-21-x", "the directory")
    with pytest.raises(ValueError, match="who vouches"):
        VouchedSid(DEVICE, " ")


def test_only_an_accepted_challenge_vouches_for_a_sid() -> None:
    sid = VouchedSid(DEVICE, "Intune")
    assert ChallengeVerdict.accept("ok", sid=sid).sid == sid
    with pytest.raises(ValueError, match="only an accepted challenge"):
        ChallengeVerdict(ChallengeVerdict.refuse("no").outcome, "no", sid)


def test_a_one_time_challenge_bound_to_a_sid_vouches_for_it() -> None:
    challenges = OneTimeChallenges(InMemoryChallenges(), clock=lambda: NOW)
    password = challenges.issue(ttl=timedelta(hours=1), sid=DEVICE)
    verdict = challenges.check(password, _csr_asking(VICTIM, form="uri", challenge=password))
    assert verdict.accepted
    assert verdict.sid == VouchedSid(DEVICE, "a one-time challenge issued for this SID")
    with pytest.raises(LocalProtocolError, match="not a SID"):
        challenges.issue(ttl=timedelta(hours=1), sid="administrator")


# --- the policy: a trace line names the SID, STRIP or REFUSE --------------------------


def _view(challenge: ChallengeVerdict, *, form: str = "uri") -> Any:
    from pyscep.policy import DistinguishedName, PublicKeyView, RequestView

    request = _csr_asking(VICTIM, form=form)
    signer = self_signed_signer(REQUESTER, "CN=laptop-17", now=NOW)
    return RequestView(
        message_type=pyscep.MessageType.PKCS_REQ,
        subject=DistinguishedName.from_der(request.subject_der),
        public_key=PublicKeyView(request.public_key_der),
        signer=signer.certificate,
        signature_verified=True,
        challenge=challenge,
        subject_alt_names=request.subject_alt_names,
        requested_sids=request.requested_sids,
    )


def _decide(config: PolicyConfig, challenge: ChallengeVerdict, form: str = "uri") -> Any:
    return evaluate(
        _view(challenge, form=form), config, InMemoryInventory(), [CA.certificate], now=NOW
    )


@pytest.mark.parametrize("form", ["uri", "extension"])
def test_the_policy_strips_a_requested_sid_and_says_so(form: str) -> None:
    config = parse_scep_conf('ScepAutoApproveEnrollment "YES"\nScepKeepSubjectAltName "YES"\n')
    decision = _decide(config, ChallengeVerdict.accept("ok"), form)
    assert decision.action is Action.ISSUE
    line = next(e for e in decision.trace if e.rule == "requested-sid")
    assert VICTIM in line.detail
    assert "not copied" in line.detail
    # Kept names keep no SID, whatever ScepKeepSubjectAltName says.
    assert all(sid_of_subject_alt_name(n) is None for n in decision.subject_alt_names)
    if form == "uri":
        assert decision.subject_alt_names == ("dns_name:laptop-17.corp.example",)


def test_the_policy_refuses_a_requested_sid_when_told_to() -> None:
    config = parse_scep_conf('ScepAutoApproveEnrollment "YES"\nScepRequestedSid "REFUSE"\n')
    assert config.requested_sid is RequestedSid.REFUSE
    decision = _decide(config, ChallengeVerdict.accept("ok"))
    assert decision.action is Action.REJECT
    assert decision.trace[-1].rule == "requested-sid"
    assert f"asks for SID {VICTIM}" in (decision.fail_info_text or "")
    # The SID the challenge vouches for may be asked for: nothing is foreign.
    vouched = ChallengeVerdict.accept("ok", sid=VouchedSid(VICTIM, "Intune"))
    allowed = _decide(config, vouched)
    assert allowed.action is Action.ISSUE
    line = next(e for e in allowed.trace if e.rule == "requested-sid")
    assert line.detail == f"SID {VICTIM} asked for: Intune"


# --- the server: the attack, end to end -----------------------------------------------

#: A profile generous with URIs: the names rule alone would have granted the SID URI.
GENEROUS = (
    '[default]\nsubject_alt_names = ["uniform_resource_identifier:*", "dns_name:*.corp.example"]\n'
)


def _server(tmp_path: Path, **options: Any) -> ReferenceServer:
    (tmp_path / "profiles.toml").write_text(GENEROUS)
    if options.get("challenge_mode") != "one-time":
        options.setdefault("challenge", CHALLENGE)
    return ReferenceServer(
        ServeOptions(tmp_path / "state", issuance_profiles=tmp_path / "profiles.toml", **options)
    )


def _enroll(
    server: ReferenceServer,
    *,
    form: str = "uri",
    sid: str = VICTIM,
    challenge: str = CHALLENGE,
    signer: KeyPair | None = None,
    key: pyscep.PrivateKey | None = None,
) -> tuple[Any, Any]:
    now = _now()
    key = key or pyscep.load_private_key(make_identity("device key", now=now).key_der)
    signer = signer or self_signed_signer(key, "CN=laptop-17", now=now)
    csr = _csr_asking(sid, form=form, challenge=challenge, key=key)
    built = build_pkcs_req(csr, signer=signer, recipient=server.files.ca.certificate)
    response = server.handle(
        "POST", "/certsrv/mscep/mscep.dll", "operation=PKIOperation", built.der
    )
    return open_cert_rep(
        response.body, signer, ca_certificates=[server.files.ca.certificate], request=built
    )


@pytest.mark.parametrize("form", ["uri", "extension"])
def test_someone_elses_sid_never_reaches_the_certificate(tmp_path: Path, form: str) -> None:
    reply, content = _enroll(_server(tmp_path), form=form)
    assert reply.pki_status is PKIStatus.SUCCESS
    issued = content.certificates[0]
    assert issued.sids == ()
    assert SID_EXTENSION_OID not in issued.critical_extensions
    # The rest of what the profile grants is still granted.
    assert issued.subject_alt_names == (
        ("dns_name:laptop-17.corp.example",) if form == "uri" else ()
    )


def test_refuse_mode_answers_the_attacker_with_bad_request(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    reply, content = _enroll(_server(tmp_path, requested_sid="refuse", log=log), form="extension")
    assert reply.pki_status is PKIStatus.FAILURE
    assert reply.fail_info is pyscep.FailInfo.BAD_REQUEST
    assert "SID" in (reply.fail_info_text or "")
    assert content is None
    assert f"SID {VICTIM} asked for, vouched for by nobody: refused" in log.read_text()


def test_requested_sid_is_a_checked_setting(tmp_path: Path) -> None:
    with pytest.raises(ServeConfigError, match="'strip' or 'refuse'"):
        check_options(ServeOptions(tmp_path, challenge=CHALLENGE, requested_sid="copy"))


def test_a_challenge_bound_to_a_sid_writes_that_sid_and_no_other(tmp_path: Path) -> None:
    server = _server(tmp_path, challenge_mode="one-time")
    operator = Operator(state_dir=tmp_path / "state")
    password = operator.new_challenge(ttl=timedelta(hours=1), sid=DEVICE)
    # The device asks for the administrator's SID; the challenge vouches for its own.
    key = pyscep.load_private_key(make_identity("device key", now=_now()).key_der)
    reply, content = _enroll(server, challenge=password, key=key)
    assert reply.pki_status is PKIStatus.SUCCESS
    issued = content.certificates[0]
    assert issued.sids == (DEVICE, DEVICE)
    assert f"uniform_resource_identifier:{SID_URI_PREFIX}{DEVICE}" in issued.subject_alt_names
    # A renewal signed by that certificate keeps its SID (this CA wrote it), and still
    # copies none the renewal asks for.
    new_key = pyscep.load_private_key(make_identity("renewed key", now=_now()).key_der)
    renewed_reply, renewed = _enroll(
        server, form="none", challenge="unused", signer=KeyPair(key, issued), key=new_key
    )
    assert renewed_reply.pki_status is PKIStatus.SUCCESS, renewed_reply
    assert renewed.certificates[0].sids == (DEVICE, DEVICE)


def test_challenges_keep_their_sid_in_sqlite_and_an_old_table_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as db:  # the challenges table as pyscep made it before
        db.execute(
            "CREATE TABLE challenges (digest BLOB PRIMARY KEY, subject TEXT,"
            " subject_alt_name TEXT, expires REAL NOT NULL, used REAL)"
        )
    store = SqliteStore(path)
    challenges = OneTimeChallenges(store.challenges, clock=_now)
    password = challenges.issue(ttl=timedelta(minutes=5), sid=DEVICE)
    verdict = challenges.check(password, _csr_asking(DEVICE, form="uri", challenge=password))
    assert verdict.sid == VouchedSid(DEVICE, "a one-time challenge issued for this SID")
    store.close()
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(challenges)")]
    assert columns[-1] == "sid"


# --- what an independent review tried (each was a way around, or a crash) ---------------

#: URIs a writer re-encodes into the SID URI: percent-encoded whitespace and controls that
#: are dropped, a leading space that is stripped, percent-encoded letters.
DISGUISED = [
    f"tag:microsoft.com,2022-09-14:s%09id:{VICTIM}",
    f"tag:microsoft.com,2022-09-14:sid%0A:{VICTIM}",
    f"tag:microsoft.com,2022-09-14:%0Dsid:{VICTIM}",
    f"%20tag:microsoft.com,2022-09-14:sid:{VICTIM}",
    f"%74ag:microsoft.com,2022-09-14:sid:{VICTIM}",
    f"%2574ag:microsoft.com,2022-09-14:sid:{VICTIM}",
    # Far down a long URI: the whole URI is searched.
    "%20" * 4200 + f"tag:microsoft.com,2022-09-14:sid:{VICTIM}",
    "x" * 4100 + f"tag:microsoft.com,2022-09-14:sid:{VICTIM}",
]


@pytest.mark.parametrize("uri", DISGUISED)
def test_a_disguised_sid_uri_is_seen_and_never_written(tmp_path: Path, uri: str) -> None:
    name = f"uniform_resource_identifier:{uri}"
    assert sid_of_subject_alt_name(name) == VICTIM
    request = build_csr(REQUESTER, "CN=laptop-17", subject_alt_names=[name])
    assert request.requested_sids == (VICTIM,)
    with pytest.raises(LocalProtocolError, match="only as vouched_sid"):
        issue_certificate(CA.signer, request, now=NOW, subject_alt_names=[name])
    # End to end, with the profile that grants any URI, and with a policy keeping SANs.
    (tmp_path / "profile").mkdir()
    for server in (
        _server(tmp_path / "profile"),
        _policy_server(tmp_path / "policy", 'ScepKeepSubjectAltName "YES"\n'),
    ):
        reply, content = _enroll_asking(server, name)
        assert reply.pki_status is PKIStatus.SUCCESS
        assert content.certificates[0].sids == ()
        assert content.certificates[0].subject_alt_names == ()


def _policy_server(directory: Path, conf: str, **options: Any) -> ReferenceServer:
    directory.mkdir(exist_ok=True)
    (directory / "scep.conf").write_text('ScepAutoApproveEnrollment "YES"\n' + conf)
    return ReferenceServer(
        ServeOptions(
            directory / "state",
            challenge=CHALLENGE,
            policy=directory / "scep.conf",
            log=directory / "decisions.jsonl",
            **options,
        )
    )


def _enroll_asking(server: ReferenceServer, name: str) -> tuple[Any, Any]:
    now = _now()
    key = pyscep.load_private_key(make_identity("device key", now=now).key_der)
    signer = self_signed_signer(key, "CN=laptop-17", now=now)
    csr = build_csr(key, "CN=laptop-17", challenge_password=CHALLENGE, subject_alt_names=[name])
    built = build_pkcs_req(csr, signer=signer, recipient=server.files.ca.certificate)
    response = server.handle("POST", "/scep", "operation=PKIOperation", built.der)
    return open_cert_rep(
        response.body, signer, ca_certificates=[server.files.ca.certificate], request=built
    )


def test_refuse_mode_under_a_policy_is_the_policys_requested_sid_rule(tmp_path: Path) -> None:
    server = _policy_server(tmp_path, "", requested_sid="refuse")
    reply, _ = _enroll_asking(server, f"uniform_resource_identifier:{SID_URI_PREFIX}{VICTIM}")
    assert reply.pki_status is PKIStatus.FAILURE
    logged = (tmp_path / "decisions.jsonl").read_text()
    assert '"rule": "requested-sid"' in logged
    assert "policy rule requested-sid" in logged


@pytest.mark.parametrize("sid", [VICTIM, VICTIM.lower()], ids=["canonical", "lower-case"])
def test_renewing_an_imported_certificate_keeps_no_sid(tmp_path: Path, sid: str) -> None:
    """A SID on a certificate this server did not vouch for (imported, or issued by a
    server that copied it from a request) is not kept by its renewal; a SID that is no
    SID is no crash."""
    server = ReferenceServer(ServeOptions(tmp_path / "state", challenge=CHALLENGE))
    now = _now()
    old_identity = make_identity("old key", now=now)
    old_key = pyscep.load_private_key(old_identity.key_der)
    old_public = serialization.load_der_private_key(old_identity.key_der, None).public_key()
    ca_key = serialization.load_pem_private_key((tmp_path / "state" / "ca.key").read_bytes(), None)
    ca_name = server.files.ca.certificate.to_cryptography().subject
    old = (
        cx509.CertificateBuilder()
        .subject_name(cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "laptop-17")]))
        .issuer_name(ca_name)
        .public_key(old_public)  # type: ignore[arg-type]
        .serial_number(777)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            cx509.SubjectAlternativeName([cx509.UniformResourceIdentifier(SID_URI_PREFIX + sid)]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    imported = pyscep.Certificate.load(old.public_bytes(Encoding.DER))
    Operator(state_dir=tmp_path / "state").import_certificates(
        [imported], issuer=server.files.ca.certificate, now=now
    )
    new_key = pyscep.load_private_key(make_identity("new key", now=now).key_der)
    reply, renewed = _enroll(
        server, form="none", challenge="unused", signer=KeyPair(old_key, imported), key=new_key
    )
    assert reply.pki_status is PKIStatus.SUCCESS, reply
    assert renewed.certificates[0].sids == ()


def test_an_unreadable_sid_extension_is_a_requested_sid(tmp_path: Path) -> None:
    good = sid_extension_value(VICTIM)
    # One good otherName, then one whose value is an INTEGER: nobody can read it all.
    bad = (
        good[:1]
        + bytes([good[1] + 19])
        + good[2:]
        + bytes.fromhex("a011060a2b060104018237190201a003020101")
    )
    request = build_csr(
        REQUESTER,
        "CN=laptop-17",
        challenge_password=CHALLENGE,
        extensions=[(SID_EXTENSION_OID, False, bad)],
    )
    assert request.requested_sids == (UNREADABLE_SID,)
    assert FindingCode.REQUESTED_SID in {f.code for f in request.findings}
    # A certificate with such an extension is still described, its SIDs as unreadable.
    from pyscep.messages.inspect import describe_certificate

    shown = describe_certificate(_certificate_with_extension(bad))
    assert shown["sids_error"].startswith("GeneralNames: ")


def _certificate_with_extension(value: bytes) -> pyscep.Certificate:
    key = serialization.load_der_private_key(CA.key_der, None)
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "odd")])
    built = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(5)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(
            cx509.UnrecognizedExtension(cx509.ObjectIdentifier(SID_EXTENSION_OID), value),
            critical=False,
        )
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return pyscep.Certificate.load(built.public_bytes(Encoding.DER))

"""Hostile input II (issue 9): one table per class of defect, not one test per example.

1. nothing but a ScepError comes out of a crypto call, whatever the parameters;
2. one algorithm policy for every signature and every key, whatever its OID;
3. RA certificates are trusted by signature, never by name;
4. identities are compared as structured names, never as joined strings;
5. every parser of outside text ends in a value or a PolicyConfigError;
6. resource limits hold for every byte ever decoded as DER, on every input path.
"""

from __future__ import annotations

import contextlib
import json
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core, keys, x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import given, settings
from hypothesis import strategies as st

import pyscep
from pyscep import (
    DEFAULT_POLICY,
    LEGACY,
    Certificate,
    FailInfo,
    LimitExceededError,
    MessageType,
    ParseError,
    PolicyConfigError,
    ScepError,
    SignatureScheme,
    UnsupportedAlgorithmError,
    VerificationError,
    get_backend,
)
from pyscep.cli import main
from pyscep.crypto.signed_object import verify_issued_by
from pyscep.http import MAX_GET_MESSAGE_LENGTH, decode_get_message
from pyscep.messages import (
    CertificationRequest,
    MessageOptions,
    build_ca_certificates,
    build_cert_rep_pending,
    build_next_ca_certificates,
    open_request,
    parse_ca_certificates,
    parse_next_ca_certificates,
    parse_pki_message,
    policy_request_view,
    verify_cert_rep,
    verify_request,
)
from pyscep.messages.build import build_request
from pyscep.policy import (
    Action,
    CertificateStatus,
    DistinguishedName,
    InMemoryInventory,
    InventoryRecord,
    NamePattern,
    PolicyConfig,
    RequestView,
    evaluate,
    inventory_from_json,
    parse_scep_conf,
)
from pyscep.testing import make_identity
from tests.support.helpers import NOW, make_csr
from tests.support.hostile import (
    RawSigner,
    hostile_certificate,
    name,
    pss,
    ra_certificate,
    rsa_key,
    spki_der,
    tlv,
    unsigned_csr,
)

CA = make_identity("Hostile CA", now=NOW, ca=True)
CLIENT = make_identity("hostile-client", now=NOW)
CA_NAME = x509.Name.load(CA.certificate.subject_der)
BACKEND = get_backend()


def _request(content: bytes, signer: Any = None, options: MessageOptions | None = None) -> bytes:
    """A PKCSReq around ``content`` (a CSR, hostile or not), signed by ``signer``."""
    return build_request(
        MessageType.PKCS_REQ,
        content,
        signer=signer or CLIENT.signer,
        recipient=CA.certificate,
        transaction_id="HOSTILE-1",
        options=options or MessageOptions(),
    ).der


def _signer_info_algorithm(data: bytes, algorithm: dict[str, Any]) -> bytes:
    """The same request with its SignerInfo's signatureAlgorithm replaced."""
    from asn1crypto import cms

    info = cms.ContentInfo.load(data)
    info["content"]["signer_infos"][0]["signature_algorithm"] = algorithm
    return bytes(info.dump(force=True))


def _ec_spki(curve: str | None) -> bytes:
    """An EC SubjectPublicKeyInfo on ``curve`` (a name, a dotted OID, or None: explicit)."""
    if curve is None:
        parameters = keys.ECDomainParameters(
            name="specified",
            value={
                "version": "ecdpVer1",
                "field_id": {"field_type": "prime_field", "parameters": 23},
                "curve": {"a": b"\x01", "b": b"\x01"},
                "base": b"\x04\x01\x01",
                "order": 29,
            },
        )
    else:
        parameters = keys.ECDomainParameters(name="named", value=curve)
    return bytes(
        keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "ec", "parameters": parameters},
                "public_key": b"\x04" + b"\x01" * 40,
            }
        ).dump()
    )


def _signed_by(signer: Certificate, common_name: str = "hostile-client") -> RequestView:
    """What the policy sees of a request whose signature checked out with ``signer``."""
    view = policy_request_view(parse_pki_message(_request(make_csr(CLIENT, common_name))))
    return replace(view, signer=signer, signature_verified=True)


def _signed_by_key_of(spki: bytes) -> Certificate:
    """A self-issued certificate for ``spki`` (signed by an unrelated key: never checked)."""
    return hostile_certificate(
        subject=name("hostile-signer"),
        issuer=name("hostile-signer"),
        spki=spki,
        signing_key=rsa_key(),
        now=NOW,
    )


# --- 1. nothing but a ScepError from a crypto call ----------------------------------

PSS_SALTS = [-1, -(2**70), 2**70, 10**6, 223]  # 223: one more than a 2048-bit key allows


@pytest.mark.parametrize("salt", PSS_SALTS)
def test_a_signer_info_pss_salt_out_of_range_is_bad_alg_on_every_path(salt: int) -> None:
    data = _signer_info_algorithm(_request(make_csr(CLIENT)), pss(salt))
    for step in (
        lambda: verify_request(parse_pki_message(data)),
        lambda: open_request(data, CA.decrypter),
    ):
        with pytest.raises(UnsupportedAlgorithmError) as caught:
            step()
        assert caught.value.fail_info is FailInfo.BAD_ALG
    # The policy sees an unverified request and says no, with a reason.
    view = policy_request_view(parse_pki_message(data))
    decision = evaluate(view, PolicyConfig(), InMemoryInventory(), [CA.certificate], now=NOW)
    assert decision.action is Action.REJECT


CURVES = ["brainpoolp160r1", "secp112r1", "sect163k1", "secp224r1", "1.2.3.4.5.6", None]


@pytest.mark.parametrize("curve", CURVES, ids=[str(c) for c in CURVES])
def test_a_signer_key_on_a_curve_pyscep_does_not_allow_is_bad_alg(curve: str | None) -> None:
    signer = RawSigner(_signed_by_key_of(_ec_spki(curve)), rsa_key())
    data = _request(make_csr(CLIENT), signer, MessageOptions(scheme=SignatureScheme.RSA_PKCS1V15))
    with pytest.raises(UnsupportedAlgorithmError) as caught:
        verify_request(parse_pki_message(data))
    assert caught.value.fail_info is FailInfo.BAD_ALG


@pytest.mark.parametrize("salt", PSS_SALTS)
def test_a_csr_signed_with_an_impossible_pss_salt_is_bad_alg_with_a_reply(salt: int) -> None:
    key = rsa_key()
    hostile = unsigned_csr(spki=spki_der(key), algorithm=pss(salt), key=key)
    with pytest.raises(UnsupportedAlgorithmError) as caught:
        open_request(_request(hostile), CA.decrypter)
    assert caught.value.fail_info is FailInfo.BAD_ALG
    assert caught.value.reply_to is not None  # answerable: the request itself verified


@pytest.mark.parametrize("salt", [-1, 2**70])
def test_a_signer_certificate_with_an_impossible_pss_signature_is_rejected_not_raised(
    salt: int,
) -> None:
    # Issued "by" our CA in name: the provenance check must verify the signature.
    forged = hostile_certificate(
        subject=name("device-9"),
        issuer=CA_NAME,
        spki=spki_der(rsa_key()),
        signing_key=rsa_key(),
        now=NOW,
        algorithm=pss(salt),
    )
    view = _signed_by(forged)
    decision = evaluate(view, PolicyConfig(), InMemoryInventory(), [CA.certificate], now=NOW)
    assert decision.action is Action.REJECT
    assert decision.trace[-1].rule == "signer-provenance"


class _RaisingBackend:
    """A backend whose library raises its own exceptions for hostile parameters."""

    def __init__(self, error: type[Exception]) -> None:
        self.inner = get_backend()
        self.error = error
        self.name = "raising"

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    def verify_signature(self, *args: Any, **kwargs: Any) -> None:
        raise self.error("the library did not like that")


@pytest.mark.parametrize("error", [ValueError, OverflowError, TypeError, LookupError])
def test_an_exception_from_the_backend_library_becomes_a_verification_error(
    error: type[Exception],
) -> None:
    message = parse_pki_message(_request(make_csr(CLIENT)))
    with pytest.raises(VerificationError):
        verify_request(message, backend=_RaisingBackend(error))


def test_policy_check_on_a_hostile_request_decides_or_says_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = rsa_key()
    hostile = unsigned_csr(spki=spki_der(key), algorithm=pss(2**70), key=key)
    files = {
        "request": _request(hostile),
        "ca.der": CA.certificate.der,
        "ca.key": CA.key_der,
        "inventory.json": b"[]",
        "scep.conf": b'ScepAutoApprove "YES"\n',
        "forged-salt.der": _signer_info_algorithm(_request(make_csr(CLIENT)), pss(-1)),
    }
    for file, data in files.items():
        (tmp_path / file).write_bytes(data)
    common = ["policy", "check", "--config", str(tmp_path / "scep.conf")]
    common += ["--inventory", str(tmp_path / "inventory.json")]
    common += ["--ca-cert", str(tmp_path / "ca.der"), "--ca-key", str(tmp_path / "ca.key")]
    common += ["--now", NOW.isoformat()]  # judged at the time the material was made
    # The CSR inside cannot be checked: bad input, exit 2, one line on stderr.
    assert main([*common, "--request", str(tmp_path / "request")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    # The SignerInfo cannot be checked: a decision (REJECT), exit 0.
    assert main([*common, "--request", str(tmp_path / "forged-salt.der"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "REJECT"


# --- 2. one algorithm policy for every signature and key ----------------------------


def _pss_keyed_request(bits: int) -> bytes:
    """A request signed (validly) with RSASSA-PSS by an id-RSASSA-PSS key of ``bits``."""
    key = rsa_key(bits)
    spki = spki_der(key, "rsassa_pss")
    signer = RawSigner(
        hostile_certificate(
            subject=name("pss-signer"),
            issuer=name("pss-signer"),
            spki=spki,
            signing_key=key,
            now=NOW,
        ),
        key,
    )
    return _request(make_csr(CLIENT), signer, MessageOptions(scheme=SignatureScheme.RSA_PSS))


def test_an_rsassa_pss_keyed_signer_gets_the_rsa_size_limits() -> None:
    data = _pss_keyed_request(1024)
    with pytest.raises(UnsupportedAlgorithmError, match="1024 bits"):
        verify_request(parse_pki_message(data))
    # The one switch for old peers lets it through: the size check is the only objection.
    assert verify_request(parse_pki_message(data), algorithms=LEGACY).signer_certificate


def test_an_rsassa_pss_keyed_signer_of_2048_bits_verifies() -> None:
    assert verify_request(parse_pki_message(_pss_keyed_request(2048))).signer_certificate


def test_an_oversized_rsa_key_is_refused_whatever_its_oid() -> None:
    spki = bytes(
        keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "rsassa_pss"},
                "public_key": {"modulus": (1 << 16383) + 1, "public_exponent": 65537},
            }
        ).dump()
    )
    signer = RawSigner(_signed_by_key_of(spki), rsa_key())
    data = _request(make_csr(CLIENT), signer, MessageOptions(scheme=SignatureScheme.RSA_PSS))
    with pytest.raises(UnsupportedAlgorithmError, match="16384 bits"):
        verify_request(parse_pki_message(data))


def test_an_rsassa_pss_key_does_not_sign_pkcs1_v15() -> None:
    key = rsa_key()
    spki = spki_der(key, "rsassa_pss")
    cert = hostile_certificate(
        subject=name("pss-only"), issuer=name("pss-only"), spki=spki, signing_key=key, now=NOW
    )
    data = _request(
        make_csr(CLIENT), RawSigner(cert, key), MessageOptions(scheme=SignatureScheme.RSA_PKCS1V15)
    )
    with pytest.raises(UnsupportedAlgorithmError, match="RSASSA-PSS only"):
        verify_request(parse_pki_message(data))


@pytest.mark.parametrize("exponent", [1, 2, 65536, (1 << 65) + 1])
def test_rsa_public_exponents_openssl_would_refuse_are_refused(exponent: int) -> None:
    spki = bytes(
        keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "rsa"},
                "public_key": {
                    "modulus": rsa_key().public_key().public_numbers().n,
                    "public_exponent": exponent,
                },
            }
        ).dump()
    )
    data = _request(make_csr(CLIENT), RawSigner(_signed_by_key_of(spki), rsa_key()))
    with pytest.raises(UnsupportedAlgorithmError, match="exponent"):
        verify_request(parse_pki_message(data))


def test_a_csr_signed_with_md5_is_refused_unless_legacy() -> None:
    key = rsa_key()
    md5_csr = unsigned_csr(spki=spki_der(key), algorithm={"algorithm": "md5_rsa"}, key=key)
    with pytest.raises(UnsupportedAlgorithmError, match="md5"):
        open_request(_request(md5_csr), CA.decrypter)
    _, content = open_request(_request(md5_csr), CA.decrypter, algorithms=LEGACY)
    assert isinstance(content, CertificationRequest)


def _md5_signed_by_ca(
    common_name: str, extensions: list[dict[str, Any]] | None = None
) -> Certificate:
    """A certificate our CA really signed, with MD5."""
    return hostile_certificate(
        subject=name(common_name),
        issuer=CA_NAME,
        spki=spki_der(rsa_key()),
        signing_key=serialization.load_der_private_key(CA.key_der, None),
        now=NOW,
        algorithm={"algorithm": "md5_rsa"},
        extensions=extensions or (),
    )


def test_a_certificate_signed_with_md5_is_refused_unless_legacy() -> None:
    md5_cert = _md5_signed_by_ca("md5-device")
    with pytest.raises(UnsupportedAlgorithmError, match="md5"):
        verify_issued_by(md5_cert, CA.certificate, backend=BACKEND, algorithms=DEFAULT_POLICY)
    verify_issued_by(md5_cert, CA.certificate, backend=BACKEND, algorithms=LEGACY)
    # The policy's provenance check applies the same policy.
    view = _signed_by(md5_cert)
    record = InventoryRecord(md5_cert, CertificateStatus.VALID)
    decision = evaluate(
        view, PolicyConfig(), InMemoryInventory((record,)), [CA.certificate], now=NOW
    )
    assert decision.trace[-1].rule == "signer-provenance"


# --- 3. RA certificates trusted by signature ---------------------------------------

SIGN = {"digital_signature": True}
ENCRYPT = {"key_encipherment": True}


def _rogue_key() -> Any:
    return serialization.load_der_private_key(make_identity("rogue", now=NOW).key_der, None)


def test_an_ra_certificate_with_the_ca_name_but_not_its_signature_is_refused() -> None:
    forged = ra_certificate("rogue RA", CA, now=NOW, usage=ENCRYPT, signing_key=_rogue_key())
    body, _ = build_ca_certificates(CA.certificate, [forged.certificate])
    for pin in (None, CA.certificate.sha256_fingerprint):
        with pytest.raises(VerificationError, match="not signed"):
            parse_ca_certificates(body, now=NOW, ca_fingerprint=pin)


def test_a_man_in_the_middle_who_keeps_the_pinned_ca_and_adds_his_own_is_refused() -> None:
    rogue_ca = make_identity("Hostile CA", now=NOW, ca=True)  # same name, other key
    rogue_ra = ra_certificate("RA", rogue_ca, now=NOW, usage={**SIGN, **ENCRYPT})
    body, _ = build_ca_certificates(CA.certificate, [rogue_ca.certificate, rogue_ra.certificate])
    with pytest.raises(VerificationError, match="pinned"):
        parse_ca_certificates(body, now=NOW, ca_fingerprint=CA.certificate.sha256_fingerprint)
    # Without a pin the response is self-consistent, and says which CA it chose.
    found = parse_ca_certificates(body, now=NOW)
    assert found.ca == rogue_ca.certificate != CA.certificate


@pytest.mark.parametrize(
    ("days", "why"), [((-30, -1), "expired"), ((2, 30), "not valid yet")], ids=["expired", "future"]
)
def test_an_ra_certificate_outside_its_validity_is_refused(days: tuple[int, int], why: str) -> None:
    ra = ra_certificate("RA", CA, now=NOW, usage=ENCRYPT, days=days)
    body, _ = build_ca_certificates(CA.certificate, [ra.certificate])
    with pytest.raises(VerificationError, match="not valid now"):
        parse_ca_certificates(body, now=NOW)


def test_an_ra_signed_with_md5_is_refused_under_the_default_policy() -> None:
    md5_ra = _md5_signed_by_ca(
        "md5 RA",
        [{"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}}],
    )
    body, _ = build_ca_certificates(CA.certificate, [md5_ra])
    with pytest.raises(VerificationError):
        parse_ca_certificates(body, now=NOW)
    assert parse_ca_certificates(body, now=NOW, algorithms=LEGACY).encryption == md5_ra


def test_an_ra_without_key_encipherment_is_never_the_encryption_certificate() -> None:
    signing = ra_certificate("RA signing", CA, now=NOW, usage=SIGN)
    body, _ = build_ca_certificates(CA.certificate, [signing.certificate])
    with pytest.raises(VerificationError, match="encipher"):
        parse_ca_certificates(body, now=NOW)
    encrypting = ra_certificate("RA encryption", CA, now=NOW, usage=ENCRYPT)
    body, _ = build_ca_certificates(CA.certificate, [signing.certificate, encrypting.certificate])
    found = parse_ca_certificates(body, now=NOW)
    assert found.encryption == encrypting.certificate
    assert found.verification == (signing.certificate, CA.certificate)


def test_an_ra_chained_through_an_intermediate_to_the_pinned_root_is_accepted() -> None:
    root = make_identity("Root CA", now=NOW, ca=True)
    issuing = make_identity("Issuing CA", now=NOW, ca=True, issuer=root)
    ra = ra_certificate("RA", issuing, now=NOW, usage={**SIGN, **ENCRYPT})
    body, _ = build_ca_certificates(issuing.certificate, [ra.certificate, root.certificate])
    found = parse_ca_certificates(body, now=NOW, ca_fingerprint=root.certificate.sha256_fingerprint)
    assert (found.ca, found.encryption) == (issuing.certificate, ra.certificate)


def test_a_cert_rep_signed_by_an_encryption_only_ra_is_refused_whatever_is_trusted() -> None:
    encrypting = ra_certificate("RA encryption", CA, now=NOW, usage=ENCRYPT)
    reply = build_cert_rep_pending(
        pyscep.messages.ReplyTo("TX-1", b"N" * 16), signer=encrypting.signer
    )
    for trusted in ([CA.certificate, encrypting.certificate], [encrypting.certificate]):
        with pytest.raises(VerificationError, match="keyUsage"):
            verify_cert_rep(parse_pki_message(reply), ca_certificates=trusted)
    signing = ra_certificate("RA signing", CA, now=NOW, usage=SIGN)
    reply = build_cert_rep_pending(
        pyscep.messages.ReplyTo("TX-1", b"N" * 16), signer=signing.signer
    )
    assert verify_cert_rep(parse_pki_message(reply), ca_certificates=[signing.certificate])


def test_get_next_ca_cert_must_come_from_the_pinned_ca_or_an_ra_chaining_to_it() -> None:
    signing = ra_certificate("RA signing", CA, now=NOW, usage=SIGN)
    encrypting = ra_certificate("RA encryption", CA, now=NOW, usage=ENCRYPT)
    body, _ = build_ca_certificates(CA.certificate, [signing.certificate, encrypting.certificate])
    current = parse_ca_certificates(body, now=NOW, ca_fingerprint=CA.certificate.sha256_fingerprint)
    next_ca = make_identity("Next CA", now=NOW, ca=True)
    for signer in (CA.signer, signing.signer):
        announced = build_next_ca_certificates([next_ca.certificate], signer=signer)
        assert parse_next_ca_certificates(announced, current) == (next_ca.certificate,)
    rogue_ra = ra_certificate("RA signing", CA, now=NOW, usage=SIGN, signing_key=_rogue_key())
    for signer, trusted in (
        (rogue_ra.signer, current),
        (encrypting.signer, current),
        (encrypting.signer, [CA.certificate, encrypting.certificate]),
    ):
        announced = build_next_ca_certificates([next_ca.certificate], signer=signer)
        with pytest.raises(VerificationError):
            parse_next_ca_certificates(announced, trusted)


# --- 4. identities as structured names -----------------------------------------------


def _subject(*rdns: list[tuple[str, str]]) -> bytes:
    """A DER Name from RDNs given most specific last (encoding order)."""
    return bytes(
        x509.Name(
            name="",
            value=x509.RDNSequence(
                [
                    x509.RelativeDistinguishedName(
                        [
                            {
                                "type": kind,
                                "value": x509.DirectoryString(name="utf8_string", value=v),
                            }
                            for kind, v in rdn
                        ]
                    )
                    for rdn in rdns
                ]
            ),
        ).dump()
    )


ONE_CN = _subject([("common_name", "rogue, O=Trusted RA, C=DE")])
THREE_RDNS = _subject(
    [("country_name", "DE")], [("organization_name", "Trusted RA")], [("common_name", "rogue")]
)
MULTI_VALUED = _subject(
    [("country_name", "DE")], [("organization_name", "RA"), ("common_name", "x")]
)

# (pattern, DER subject, matches?)
PATTERN_TABLE = [
    ("CN=rogue, O=Trusted RA, C=DE", THREE_RDNS, True),
    ("CN=rogue, O=Trusted RA, C=DE", ONE_CN, False),
    (r"CN=rogue\, O=Trusted RA\, C=DE", ONE_CN, True),
    (r"CN=rogue\, O=Trusted RA\, C=DE", THREE_RDNS, False),
    ("CN=*", THREE_RDNS, False),  # a wildcard stays inside its value
    ("CN=*", ONE_CN, True),
    ("CN=*, O=*, C=DE", THREE_RDNS, True),
    ("CN=ROGUE, O=trusted ra, C=de", THREE_RDNS, True),  # values compare case-insensitively
    ("CN=x+O=RA, C=DE", MULTI_VALUED, True),
    ("CN=x, O=RA, C=DE", MULTI_VALUED, False),
    ("O=RA+CN=x, C=DE", MULTI_VALUED, True),
    (r"CN=rogue\2C O=Trusted RA\2C C=DE", ONE_CN, True),  # hex escapes
    (r"CN=rog\*, O=Trusted RA, C=DE", THREE_RDNS, False),  # \* is a literal star
    ("2.5.4.3=rogue, 2.5.4.10=Trusted RA, 2.5.4.6=DE", THREE_RDNS, True),
]


@pytest.mark.parametrize(("pattern", "subject", "expected"), PATTERN_TABLE)
def test_patterns_match_the_structure_of_a_name(
    pattern: str, subject: bytes, expected: bool
) -> None:
    assert NamePattern.parse(pattern).matches(DistinguishedName.from_der(subject)) is expected


def _party(subject: bytes, key: Any) -> Certificate:
    ca_key = serialization.load_der_private_key(CA.key_der, None)
    return hostile_certificate(
        subject=x509.Name.load(subject),
        issuer=CA_NAME,
        spki=spki_der(key),
        signing_key=ca_key,
        now=NOW,
    )


def test_a_cn_full_of_commas_is_not_an_authorized_enroller() -> None:
    config = PolicyConfig(auto_approve=True, on_behalf_enrollers=("CN=rogue, O=Trusted RA, C=DE",))
    decisions = {}
    for label, subject in (("one CN", ONE_CN), ("three RDNs", THREE_RDNS)):
        enroller = _party(subject, rsa_key())
        view = _signed_by(enroller, "printer-9")
        inventory = InMemoryInventory((InventoryRecord(enroller, CertificateStatus.VALID),))
        decisions[label] = evaluate(view, config, inventory, [CA.certificate], now=NOW)
    assert decisions["one CN"].action is Action.REJECT
    assert decisions["one CN"].trace[-1].rule == "identity"
    assert decisions["three RDNs"].trace[-1].rule != "identity"
    assert any(entry.rule == "on-behalf" for entry in decisions["three RDNs"].trace)


BAD_PATTERNS = ["CN", "CN=", "XYZ=a", "CN=a;b", "CN=a\\", "CN=a\\q", "CN=a, ", "CN=\\C3"]


@pytest.mark.parametrize("text", BAD_PATTERNS)
def test_a_bad_pattern_is_a_policy_config_error_that_says_where(text: str) -> None:
    for pattern in (text, f"CN=ok, {text}"):
        with pytest.raises(PolicyConfigError, match="RFC 4514"):
            NamePattern.parse(pattern)
    with pytest.raises(PolicyConfigError, match="line 2"):
        parse_scep_conf(f'ScepAutoApprove "NO"\nScepOnBehalfEnrollers "{text}"\n')


_VALUES = st.text(alphabet=st.sampled_from('ab ,+="\\#;<>*?é\x00'), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["CN", "O", "OU", "C"]), _VALUES), min_size=1, max_size=4)
)
def test_any_name_round_trips_through_its_text_and_matches_itself(
    rdns: list[tuple[str, str]],
) -> None:
    dn = DistinguishedName(tuple(((kind, value),) for kind, value in rdns))
    text = str(dn)
    assert DistinguishedName.parse(text) == dn
    # As a pattern, every wildcard character of a value must be escaped to stay literal.
    literal = text.replace("*", "\\*").replace("?", "\\?")
    assert NamePattern.parse(literal).matches(dn)
    # One RDN holding all that text is never the same structure (unless it is one RDN).
    one = DistinguishedName(((("CN", text),),))
    assert NamePattern.parse(literal).matches(one) is (len(rdns) == 1 and one == dn)


# --- 5. parsers of outside text ------------------------------------------------------

NUMBERS = ["1e10", "inf", "-inf", "nan", "1e308", "-1", "1_0", "0x10", "١٢", "99999999999"]


@pytest.mark.parametrize("value", NUMBERS)
@pytest.mark.parametrize(
    "key",
    [
        "ScepRenewalWindowDays",
        "ScepExpiredSignerGraceDays",
        "ScepMaxValidCertificates",
        "ScepMinimumRSABits",
    ],
)
def test_scep_conf_numbers_end_in_a_value_or_an_error_naming_the_line(key: str, value: str) -> None:
    with pytest.raises(PolicyConfigError, match="line 3"):
        parse_scep_conf(f'# policy\nScepAutoApprove "NO"\n{key} "{value}"\n')


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_scep_conf_text_ends_in_a_config_or_a_policy_config_error(text: str) -> None:
    with contextlib.suppress(PolicyConfigError):
        assert isinstance(parse_scep_conf(text), PolicyConfig)


INVENTORIES = [
    ("[" * 100_000, "nested too deeply"),
    ('{"a":' * 100_000, "nested too deeply"),
    ("[" + "9" * 5000 + "]", "not JSON"),
    ("{}", "JSON array"),
    ('[{"certificate": ["x"], "status": "valid"}]', "inventory[0]"),
    ('[{"certificate": "x", "status": ["valid"]}]', "inventory[0]"),
    ('[{"certificate": "x", "status": "valid", "role": {}}]', "inventory[0]"),
    ('[{"certificate": "x", "status": "valid", "request_id": 7}]', "inventory[0]"),
    ('[{"certificate": "junk.der", "status": "valid"}]', "inventory[0]: certificate 'junk.der'"),
]


@pytest.mark.parametrize(("text", "why"), INVENTORIES, ids=[why for _, why in INVENTORIES])
def test_inventory_json_ends_in_records_or_an_error_naming_the_position(
    text: str, why: str
) -> None:
    with pytest.raises(PolicyConfigError, match=why.replace("[", r"\[").replace("]", r"\]")):
        inventory_from_json(text, lambda file: b"not a certificate")


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["certificate", "status", "role", "x"]), inner, max_size=4
            )
        ),
        max_leaves=12,
    )
)
def test_any_json_ends_in_an_inventory_or_a_policy_config_error(value: Any) -> None:
    with contextlib.suppress(PolicyConfigError):
        inventory_from_json(json.dumps(value), lambda file: CA.certificate.der)


# --- 6. limits for every byte decoded as DER ------------------------------------------


@dataclass(frozen=True)
class Bomb:
    what: str
    make: Callable[[], bytes]
    run: Callable[[bytes], object]


def _bounded(run: Callable[[bytes], object], data: bytes) -> tuple[ScepError, float, int]:
    """Run ``run(data)`` expecting a ScepError; return it with the time and peak memory."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        run(data)
    except ScepError as exc:
        error = exc
    else:  # pragma: no cover - the assertion below reports it
        error = None  # type: ignore[assignment]
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert error is not None, "the hostile input was accepted"
    return error, elapsed, peak


def _csr_with(oid: str, value: bytes) -> bytes:
    return unsigned_csr(spki=spki_der(rsa_key()), extensions=[(oid, value)])


def _ra_with_key_usage(size: int) -> bytes:
    from cryptography import x509 as cx509
    from cryptography.x509.oid import ExtensionOID, NameOID

    key = rsa_key()
    ca_key = serialization.load_der_private_key(CA.key_der, None)
    ra = (
        cx509.CertificateBuilder()
        .subject_name(cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "RA")]))
        .issuer_name(CA.certificate.to_cryptography().subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(
            cx509.UnrecognizedExtension(
                ExtensionOID.KEY_USAGE, tlv(0x03, b"\x00" + b"\xff" * size)
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return build_ca_certificates(CA.certificate, [Certificate.load(ra)])[0]


def _pem_bundle(count: int) -> bytes:
    from tests.support.helpers import pem_cert

    return pem_cert(CA.certificate) * count


def _server(data: bytes) -> object:
    return open_request(_request(data), CA.decrypter)


NULLS = tlv(0x30, b"\x05\x00" * 300_000)
NAMES_120K = tlv(0x30, tlv(0x82, b"a.b") * 120_000)
NAMES_15K = tlv(0x30, tlv(0x82, b"a") * 15_000)
USAGE_600K = tlv(0x03, b"\x00" + b"\xff" * 600_000)
CSR_LOAD = CertificationRequest.load


def _get_cacert(body: bytes) -> object:
    return parse_ca_certificates(body, now=NOW)


def _get(data: bytes) -> object:
    return parse_pki_message(decode_get_message(data.decode()))


BOMBS = [
    Bomb("CSR: 300,000 NULLs in one extension", lambda: _csr_with("1.2.3.4", NULLS), CSR_LOAD),
    Bomb("CSR: 120,000 dNSNames", lambda: _csr_with("2.5.29.17", NAMES_120K), CSR_LOAD),
    Bomb(
        "CSR: 15,000 dNSNames (within budget)", lambda: _csr_with("2.5.29.17", NAMES_15K), CSR_LOAD
    ),
    Bomb("CSR: 600 KB keyUsage", lambda: _csr_with("2.5.29.15", USAGE_600K), CSR_LOAD),
    Bomb("server: CSR with 300,000 NULLs", lambda: _csr_with("1.2.3.4", NULLS), _server),
    Bomb("server: CSR with 15,000 dNSNames", lambda: _csr_with("2.5.29.17", NAMES_15K), _server),
    Bomb("GetCACert: RA with a 600 KB keyUsage", lambda: _ra_with_key_usage(600_000), _get_cacert),
    Bomb("GetCACert: 2,000 PEM certificates", lambda: _pem_bundle(2000), _get_cacert),
    Bomb("GetCACert: 1.2 MB of PEM", lambda: _pem_bundle(1) * 1000, _get_cacert),
    Bomb("GET: 2 MiB of %2B", lambda: b"%2B" * (MAX_GET_MESSAGE_LENGTH // 3), _get),
    Bomb("GET: over the length limit", lambda: b"A" * (MAX_GET_MESSAGE_LENGTH + 1), _get),
]


@pytest.mark.parametrize("bomb", BOMBS, ids=[b.what for b in BOMBS])
def test_limits_hold_inside_strings_on_every_path(bomb: Bomb) -> None:
    data = bomb.make()
    error, elapsed, peak = _bounded(bomb.run, data)
    assert isinstance(error, ParseError), repr(error)
    # Memory: within 20x the input (plus a fixed allowance for the interpreter's
    # own parse state); time is reported by bench/parse_bench.py, not asserted here.
    assert peak <= 20 * len(data) + (1 << 20), f"{peak} bytes for {len(data)}"
    assert elapsed < 10  # a gross regression guard only


@pytest.mark.parametrize(("count", "accepted"), [(1024, True), (1025, False)])
def test_subject_alt_names_are_counted_before_they_are_read(count: int, accepted: bool) -> None:
    data = _csr_with("2.5.29.17", tlv(0x30, tlv(0x82, b"a.example") * count))
    if accepted:
        assert len(CertificationRequest.load(data).subject_alt_names) == count
    else:
        with pytest.raises(LimitExceededError, match="1024 subjectAltNames"):
            CertificationRequest.load(data)


def test_the_element_budget_counts_what_is_nested_inside_octet_strings() -> None:
    from pyscep.limits import Limits

    data = _request(make_csr(CLIENT))
    small = Limits(max_elements=100)
    # The SignedData alone has fewer than 100 elements; with its eContent, more. The
    # eContent is read when first used: by verify, or now with defer=False.
    with pytest.raises(LimitExceededError, match="100 elements"):
        parse_pki_message(data, limits=small, defer=False)
    deferred = parse_pki_message(data, limits=small)
    assert deferred.message_type is MessageType.PKCS_REQ
    with pytest.raises(LimitExceededError, match="100 elements"):
        verify_request(deferred)
    with pytest.raises(LimitExceededError, match="100 elements"):
        deferred.envelope  # noqa: B018 - read for its error
    assert parse_pki_message(data).message_type is MessageType.PKCS_REQ


def test_large_extensions_nobody_acts_on_are_kept_raw_and_said_so() -> None:
    big = tlv(0x30, core.UTF8String("x" * 5000).dump())
    parsed = CertificationRequest.load(_csr_with("1.2.3.4.5", big))
    (extension,) = parsed.requested_extensions
    assert bytes.fromhex(extension["value"]["raw_der"]) == big
    assert [f.code.value for f in parsed.findings] == ["oversized-value"]


def test_a_pem_bundle_is_capped_in_count_as_well_as_size() -> None:
    from tests.support.helpers import pem_cert

    assert len(Certificate.load_all(pem_cert(CA.certificate) * 64)) == 64
    with pytest.raises(LimitExceededError, match="more than 64 certificates"):
        parse_ca_certificates(pem_cert(CA.certificate) * 65, now=NOW)


def test_a_self_issued_encryption_only_certificate_does_not_pass_for_a_ca_signer() -> None:
    # Self-issued and without basicConstraints, it counts as a CA; without
    # keyCertSign or digitalSignature, it still may not sign.
    key = rsa_key()
    usage = {"extn_id": "key_usage", "critical": True, "extn_value": {"key_encipherment"}}
    certificate = hostile_certificate(
        subject=name("encrypt only"),
        issuer=name("encrypt only"),
        spki=spki_der(key),
        signing_key=key,
        now=NOW,
        extensions=[usage],
    )
    assert certificate.is_ca
    reply = build_cert_rep_pending(
        pyscep.messages.ReplyTo("TX-1", b"N" * 16), signer=RawSigner(certificate, key)
    )
    with pytest.raises(VerificationError, match="keyUsage"):
        verify_cert_rep(parse_pki_message(reply), ca_certificates=[certificate])

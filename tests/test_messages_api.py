"""The message-layer API as a new user meets it: each trap found by a new user, as a test.

Every test in the first part failed on the main of before this API change
(the legacy trap, the lost reply context, inspect and a CertRep, private
helpers in docs); the rest pins the API shape the protocol layer builds on.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import pyscep
from pyscep import messages as scep
from pyscep._boundary import field
from pyscep.cms.signed import build_signed_data
from pyscep.messages.attributes import attribute_ders
from pyscep.messages.reply import answerable
from pyscep.policy import ChallengeVerdict
from pyscep.testing import make_identity
from tests.support.helpers import current_time, openssl, pem_cert

# The clock's time: openssl verify checks certificates made at NOW against its own clock.
NOW = current_time()
CA = make_identity("API CA", now=NOW, ca=True)
DEVICE = make_identity("api-device", now=NOW)
SRC = Path(__file__).resolve().parents[1] / "src" / "pyscep"
ROOT = SRC.parents[1]
LEGACY_CLIENT = scep.MessageOptions(
    digest=pyscep.DigestAlgorithm.MD5, cipher=pyscep.ContentCipher.DES_CBC, algorithms=pyscep.LEGACY
)


def _csr(**kwargs: Any) -> scep.CertificationRequest:
    return scep.build_csr(pyscep.load_private_key(DEVICE.key_der), "CN=api-device", **kwargs)


def _legacy_request() -> scep.BuiltRequest:
    return scep.build_pkcs_req(
        _csr(), signer=DEVICE.signer, recipient=CA.certificate, options=LEGACY_CLIENT
    )


# --- 1. the legacy trap --------------------------------------------------------


def test_a_request_accepted_as_legacy_is_answered_without_restating_the_policy() -> None:
    message, content = scep.open_request(
        _legacy_request().der, CA.decrypter, algorithms=pyscep.LEGACY
    )
    assert isinstance(content, scep.CertificationRequest)
    issued = CA.issue(content, now=NOW)
    reply = scep.build_cert_rep_success(message, [issued], signer=CA.signer)
    parsed = scep.parse_pki_message(reply)
    assert parsed.digest_algorithm == "md5"
    assert parsed.envelope is not None
    assert parsed.envelope.cipher_name == "des"
    answer, certs = scep.open_cert_rep(
        reply,
        DEVICE.decrypter,
        ca_certificates=[CA.certificate],
        request=message,
        algorithms=pyscep.LEGACY,
    )
    assert answer.pki_status is pyscep.PKIStatus.SUCCESS
    assert certs is not None
    assert certs.certificates == (issued,)


def test_a_stricter_reply_policy_is_refused_loudly() -> None:
    message, _ = scep.open_request(_legacy_request().der, CA.decrypter, algorithms=pyscep.LEGACY)
    strict = scep.MessageOptions(algorithms=pyscep.DEFAULT_POLICY)
    with pytest.raises(pyscep.UnsupportedAlgorithmError, match="accepted under a policy"):
        scep.build_cert_rep_pending(message, signer=CA.signer, options=strict)
    # Choosing the algorithms explicitly is the way out.
    modern = scep.MessageOptions(
        algorithms=pyscep.DEFAULT_POLICY, digest=pyscep.DigestAlgorithm.SHA256
    )
    reply = scep.build_cert_rep_pending(message, signer=CA.signer, options=modern)
    assert scep.parse_pki_message(reply).digest_algorithm == "sha256"


@pytest.mark.external
def test_blowfish_requests_are_answered_with_a_cipher_pyscep_writes() -> None:
    message, _ = scep.open_request(_blowfish_pkcs_req(), CA.decrypter, algorithms=pyscep.LEGACY)
    assert message.content_cipher is pyscep.ContentCipher.BLOWFISH_CBC
    reply = scep.parse_pki_message(
        scep.build_cert_rep_success(message, [DEVICE.certificate], signer=CA.signer)
    )
    assert reply.envelope is not None
    assert reply.envelope.cipher_name == pyscep.ContentCipher.AES128_CBC.value


# --- 2. inspect and a key alone: see test_messages_peer_captures.py (every CertRep vector) -----


def test_inspect_opens_a_certrep_with_the_requesters_key_alone() -> None:
    from pyscep.messages.inspect import inspect_payload

    device = scep.self_signed_signer(pyscep.load_private_key(DEVICE.key_der), "CN=x", now=NOW)
    request = scep.build_pkcs_req(_csr(), signer=device, recipient=CA.certificate)
    message, _ = scep.open_request(request.der, CA.decrypter)
    reply = scep.build_cert_rep_success(message, [DEVICE.certificate], signer=CA.signer)
    found = inspect_payload(
        reply, keys=[pyscep.load_private_key(DEVICE.key_der)], certificates=[CA.certificate]
    )
    assert found.errors == ()
    assert found.description["inner"]["certificates"][0]["subject"] == DEVICE.certificate.subject
    assert found.description["decrypted_with"]["serial"] == device.certificate.serial_number
    assert found.description["envelope_recipient"]["recipient_cert_subject"] == "Common Name: x"


# --- 3. every failure after the signature leaves what a FAILURE needs ----------


@pytest.mark.parametrize("defect", ["wrong recipient", "bad proof of possession"])
def test_failures_after_the_signature_carry_the_reply(defect: str) -> None:
    other_ca = make_identity("other CA", now=NOW, ca=True)
    if defect == "wrong recipient":
        request = scep.build_pkcs_req(_csr(), signer=DEVICE.signer, recipient=other_ca.certificate)
        expected: type[pyscep.ScepError] = pyscep.DecryptionError
    else:
        csr = bytearray(_csr().der)
        csr[-5] ^= 0xFF  # break the CSR's self-signature, keep the structure
        request = scep.build_request(
            pyscep.MessageType.PKCS_REQ,
            bytes(csr),
            signer=DEVICE.signer,
            recipient=CA.certificate,
            transaction_id="TX-POP",
        )
        expected = pyscep.VerificationError
    with pytest.raises(expected) as caught:
        scep.open_request(request.der, CA.decrypter)
    reply_to = scep.ReplyTo.of_error(caught.value)
    assert reply_to is not None
    assert caught.value.fail_info is not None
    assert reply_to.transaction_id == request.transaction_id
    assert reply_to.sender_nonce == request.sender_nonce
    assert reply_to.recipient == DEVICE.certificate
    assert reply_to.digest is pyscep.DigestAlgorithm.SHA256
    failure = scep.build_cert_rep_failure(reply_to, caught.value.fail_info, signer=CA.signer)
    answer, _ = scep.open_cert_rep(
        failure, DEVICE.decrypter, ca_certificates=[CA.certificate], request=request
    )
    assert answer.fail_info is caught.value.fail_info


def test_a_bad_signature_still_gets_a_bare_reply() -> None:
    der = bytearray(scep.build_pkcs_req(_csr(), signer=DEVICE.signer, recipient=CA.certificate).der)
    der[-3] ^= 0x01  # inside the signature value
    with pytest.raises(pyscep.VerificationError) as caught:
        scep.open_request(bytes(der), CA.decrypter)
    reply_to = scep.ReplyTo.of_error(caught.value)
    assert reply_to is not None
    assert reply_to.recipient is None


def test_garbage_has_no_reply() -> None:
    with pytest.raises(pyscep.ParseError) as caught:
        scep.open_request(b"\x30\x03\x02\x01\x00", CA.decrypter)
    assert caught.value.reply_to is None


def test_decryption_failures_stay_identical_with_the_reply_context() -> None:
    outcomes = []
    for recipient in (make_identity("x CA", now=NOW, ca=True), make_identity("y", now=NOW)):
        request = scep.build_pkcs_req(_csr(), signer=DEVICE.signer, recipient=recipient.certificate)
        with pytest.raises(pyscep.DecryptionError) as caught:
            scep.open_request(request.der, CA.decrypter)
        error = caught.value
        cause = error.__cause__
        outcomes.append((type(error), str(error), error.fail_info, error.args, type(cause)))
        assert cause is None or str(cause) == str(error)  # the reply context adds no text
    assert outcomes[0] == outcomes[1]


def test_an_error_made_answerable_is_a_complete_copy() -> None:
    raised = pyscep.DecryptionError()
    request = scep.parse_pki_message(_legacy_request().der)
    assert request.transaction_id is not None
    assert request.sender_nonce is not None
    reply_to = scep.ReplyTo(request.transaction_id, request.sender_nonce)
    answered = answerable(raised, reply_to)
    assert raised.reply_to is None  # the error first raised is never changed
    assert scep.ReplyTo.of_error(raised) is None
    assert scep.ReplyTo.of_error(answered) is reply_to
    assert type(answered) is pyscep.DecryptionError
    assert answered is not raised
    assert (str(answered), answered.args, answered.fail_info) == (
        str(raised),
        raised.args,
        raised.fail_info,
    )
    path_error = answerable(pyscep.ParseError("bad", path=("a", "b")), reply_to)
    assert (str(path_error), path_error.path) == ("a/b: bad", ("a", "b"))


def test_the_http_values_answer_to_their_old_names_with_a_warning() -> None:
    import pyscep.http
    import pyscep.http.operations

    for module in (pyscep.http, pyscep.http.operations):
        with pytest.warns(
            DeprecationWarning,
            match=r"HttpRequest is deprecated: use pyscep\.http[.a-z]*\.HTTPRequest ",
        ):
            assert getattr(module, "HttpRequest") is pyscep.http.HTTPRequest  # noqa: B009
        with pytest.warns(
            DeprecationWarning,
            match=r"HttpResponse is deprecated: use pyscep\.http[.a-z]*\.HTTPResponse ",
        ):
            assert getattr(module, "HttpResponse") is pyscep.http.HTTPResponse  # noqa: B009
        with pytest.raises(AttributeError):
            getattr(module, "HttpNothing")  # noqa: B009
    assert "HttpRequest" not in pyscep.http.__all__


# --- 4. public helpers; documented names are public ---------------------------


@pytest.mark.external
def test_build_csr_with_challenge_sans_and_extensions_verifies_with_openssl(
    tmp_path: Path,
) -> None:
    template = core.UTF8String("Machine").dump()
    csr = _csr(
        challenge_password="s3cret-challenge",
        subject_alt_names=["dns_name:api-device.example", "rfc822_name:ops@example.org"],
        extensions=[("1.3.6.1.4.1.311.20.2", False, template)],
    )
    assert csr.challenge_password == "s3cret-challenge"
    assert csr.challenge_password_type == "printable_string"
    assert csr.subject_alt_names == (
        "dns_name:api-device.example",
        "rfc822_name:ops@example.org",
    )
    (tmp_path / "req.der").write_bytes(csr.der)
    text = openssl(["req", "-inform", "DER", "-in", str(tmp_path / "req.der"), "-verify", "-text"])
    assert b"DNS:api-device.example" in text
    assert b"s3cret-challenge" in text


@pytest.mark.external
def test_self_signed_signer_and_issued_certificate_verify_with_openssl(tmp_path: Path) -> None:
    key = pyscep.load_private_key(DEVICE.key_der)
    signer = scep.self_signed_signer(key, "CN=throw-away,O=Example", now=NOW)
    assert signer.certificate.self_signed
    assert signer.certificate.key_usage == frozenset({"digital_signature", "key_encipherment"})
    issued = scep.issue_certificate(CA.signer, _csr(), now=NOW, days=30)
    (tmp_path / "ca.pem").write_bytes(pem_cert(CA.certificate))
    (tmp_path / "issued.pem").write_bytes(pem_cert(issued))
    (tmp_path / "self.pem").write_bytes(pem_cert(signer.certificate))
    assert b"OK" in openssl(
        ["verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "issued.pem")]
    )
    assert b"OK" in openssl(
        ["verify", "-CAfile", str(tmp_path / "self.pem"), str(tmp_path / "self.pem")]
    )


def test_policy_request_view_from_a_verified_request() -> None:
    request = scep.build_pkcs_req(
        _csr(subject_alt_names=["dns_name:a.example"]),
        signer=DEVICE.signer,
        recipient=CA.certificate,
    )
    message, content = scep.open_request(request.der, CA.decrypter)
    assert isinstance(content, scep.CertificationRequest)
    verdict = ChallengeVerdict.accept("the challenge checked out")
    view = scep.policy_request_view(message, content, challenge=verdict)
    assert view.signature_verified
    assert view.signer == DEVICE.certificate
    assert view.public_key.der == content.public_key_der
    assert view.subject_alt_names == ("dns_name:a.example",)
    with pytest.raises(pyscep.LocalProtocolError):
        scep.policy_request_view(message)


_PRIVATE_IMPORT = re.compile(r"(from|import) +pyscep(\.\w+)*\._\w")


#: The maintainers' guide is about the private modules: it names them by design.
_MAINTAINERS_PAGES = {"internals.md"}


def test_docs_and_readme_use_public_names_only() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    pages = [page for page in pages if page.name not in _MAINTAINERS_PAGES]
    offenders = [
        f"{page.name}: {line.strip()}"
        for page in pages
        for line in page.read_text().splitlines()
        if _PRIVATE_IMPORT.search(line)
        or set(re.findall(r"\b(\w+)\._[a-z]\w*", line.split("#")[0])) - {"self", "cls"}
    ]
    assert offenders == []


def _private_attributes_defined(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.startswith("_"):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_no_module_touches_another_modules_private_attributes() -> None:
    """``x._name`` only for names the same module defines (its own classes' state)."""
    offenders = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        own = _private_attributes_defined(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and node.attr not in own
                and not (
                    isinstance(node.value, ast.Name)
                    and node.value.id in ("cls", "self", "argparse")
                )
                # asn1crypto's class tables are read (never written) by the subclasses.
                and node.attr not in ("_map", "_oid_specs", "_fields", "_child_spec")
            ):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} .{node.attr}")
    assert offenders == []


# --- API shape ----------------------------------------------------------------


def _public_callables() -> list[tuple[str, Any]]:
    found = []
    for module in (pyscep, scep):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isfunction(value):
                found.append((f"{module.__name__}.{name}", value))
    return found


def test_no_public_function_takes_var_keyword_options() -> None:
    loose = [
        name
        for name, function in _public_callables()
        if any(p.kind is p.VAR_KEYWORD for p in inspect.signature(function).parameters.values())
    ]
    assert loose == []


def test_no_public_function_calls_the_algorithm_policy_policy() -> None:
    clashing = [
        name
        for name, function in _public_callables()
        if "policy" in inspect.signature(function).parameters
    ]
    assert clashing == []


def test_a_typo_in_options_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(TypeError):
        scep.MessageOptions(digets=pyscep.DigestAlgorithm.SHA1)  # type: ignore[call-arg]


def test_replace_cannot_make_a_message_disagree_with_its_bytes() -> None:
    message = scep.parse_pki_message(_legacy_request().der)
    with pytest.raises(TypeError):
        dataclasses.replace(message, transaction_id="forged")  # type: ignore[call-arg]
    verified = scep.verify_request(message, algorithms=pyscep.LEGACY)
    with pytest.raises(TypeError):
        dataclasses.replace(verified, signer_certificate=CA.certificate)  # type: ignore[call-arg]


def _asn1crypto_values(value: Any, seen: set[int], path: str) -> list[str]:
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, core.Asn1Value):
        return [path]
    if isinstance(value, (tuple, list, frozenset)):
        return [p for i, v in enumerate(value) for p in _asn1crypto_values(v, seen, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _asn1crypto_values(v, seen, f"{path}.{k}")]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [
            p
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
            for p in _asn1crypto_values(getattr(value, f.name), seen, f"{path}.{f.name}")
        ]
    return []


def test_public_values_hold_no_asn1crypto_objects() -> None:
    message = scep.verify_request(
        scep.parse_pki_message(_legacy_request().der), algorithms=pyscep.LEGACY
    )
    content = scep.decrypt_pki_message(message, CA.decrypter)
    values: dict[str, Any] = {
        "envelope": message.envelope,
        "certificates": message.certificates,
        "findings": message.findings,
        "attributes": message.attributes,
        "signer_identifier": message.signer_identifier,
        "content": content,
        "ca": scep.parse_ca_certificates(scep.build_ca_certificates(CA.certificate)[0], now=NOW),
        "reply_to": scep.ReplyTo.of(message),
    }
    assert _asn1crypto_values(values, set(), "") == []
    assert not hasattr(CA.certificate, "asn1")
    for name in ("der", "transaction_id", "sender_nonce", "signer_certificate", "algorithms"):
        assert not isinstance(getattr(message, name), core.Asn1Value)


def test_errors_have_their_own_classes() -> None:
    with pytest.raises(pyscep.KeyLoadError):
        pyscep.load_signer(b"not a key", CA.certificate)
    with pytest.raises(pyscep.KeyMismatchError):
        pyscep.load_signer(DEVICE.key_der, CA.certificate)
    with pytest.raises(pyscep.BackendError):
        pyscep.get_backend("nope")
    with pytest.raises(pyscep.LocalProtocolError):
        pyscep.Certificate.load(42)
    with pytest.raises(pyscep.LocalProtocolError):
        pyscep.load_signer(DEVICE.key_der)


def test_the_parse_boundary_does_not_hide_our_own_bugs() -> None:
    def buggy() -> None:
        with field("somewhere"):
            raise AttributeError("a bug in pyscep")

    with pytest.raises(AttributeError):
        buggy()
    with pytest.raises(pyscep.ParseError), field("somewhere"):
        raise ValueError("what asn1crypto raises for bad input")


def test_reproducible_padding_is_a_backend_capability() -> None:
    backend = pyscep.get_backend()
    key = bytes(range(16))

    def rng(n: int) -> bytes:
        return bytes((7 * i + 1) % 255 + 1 for i in range(n))

    for transport in (pyscep.KeyTransport.RSA_PKCS1V15, pyscep.KeyTransport.RSA_OAEP_SHA256):
        first = backend.encrypt_key(CA.certificate.public_key_der, transport, key, rng)
        assert first == backend.encrypt_key(CA.certificate.public_key_der, transport, key, rng)
        assert CA.decrypter.decrypt_key(first, transport) == key


# --- real peers' odd inputs ------------------------------------------------------


def _signed_request(envelope: bytes, transaction_id: str) -> bytes:
    attributes = scep.ScepAttributes(
        message_type=pyscep.MessageType.PKCS_REQ,
        transaction_id=transaction_id,
        sender_nonce=bytes(range(16)),
    )
    return build_signed_data(
        envelope,
        DEVICE.signer,
        digest=pyscep.DigestAlgorithm.SHA256,
        backend=pyscep.get_backend(),
        algorithms=pyscep.DEFAULT_POLICY,
        attributes=attribute_ders(attributes),
    )


def _blowfish_pkcs_req() -> bytes:
    """What ``sscep enroll -E blowfish`` sends: the CSR enveloped by OpenSSL with bf-cbc."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ca_pem = Path(tmp) / "ca.pem"
        ca_pem.write_bytes(pem_cert(CA.certificate))
        envelope = openssl(
            ["cms", "-encrypt", "-binary", "-bf-cbc", "-outform", "DER", str(ca_pem)],
            _csr(challenge_password="bf").der,
            Path(tmp),
        )
    return _signed_request(envelope, "BLOWFISH-1")


@pytest.mark.external
def test_blowfish_reads_behind_the_legacy_switch_only() -> None:
    der = _blowfish_pkcs_req()
    message = scep.parse_pki_message(der)
    assert message.envelope is not None
    assert message.envelope.cipher_name == "blowfish_cbc"
    assert message.envelope.cipher_oid == "1.3.6.1.4.1.3029.1.2"
    assert pyscep.FindingCode.LEGACY_ALGORITHM in {f.code for f in message.findings}
    with pytest.raises(pyscep.UnsupportedAlgorithmError):
        scep.open_request(der, CA.decrypter)
    _, content = scep.open_request(der, CA.decrypter, algorithms=pyscep.LEGACY)
    assert isinstance(content, scep.CertificationRequest)
    assert content.challenge_password == "bf"


def test_blowfish_is_never_written() -> None:
    request = scep.MessageOptions(
        cipher=pyscep.ContentCipher.BLOWFISH_CBC, algorithms=pyscep.LEGACY
    )
    with pytest.raises(pyscep.UnsupportedAlgorithmError, match="never encrypts"):
        scep.build_pkcs_req(_csr(), signer=DEVICE.signer, recipient=CA.certificate, options=request)


def _strongswan_like_csr() -> bytes:
    """A CSR with the certificate-template extension as UTF8String (BMPString is due)."""
    key = serialization.load_der_private_key(DEVICE.key_der, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    template = x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2"),
        core.UTF8String("IPSECIntermediateOffline").dump(),
    )
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sswan-template")]))
        .add_extension(template, critical=False)
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.DER)


def test_a_mistyped_extension_is_kept_raw_with_a_finding() -> None:
    csr = scep.CertificationRequest.load(_strongswan_like_csr())
    assert [f.code for f in csr.findings] == [pyscep.FindingCode.MISTYPED_VALUE]
    (extension,) = csr.requested_extensions
    assert extension["id"] == "microsoft_enroll_certtype"
    assert (
        bytes.fromhex(extension["value"]["raw_der"])
        == core.UTF8String("IPSECIntermediateOffline").dump()
    )
    # And inside a whole PKCSReq, as a server receives it.
    request = scep.build_pkcs_req(csr, signer=DEVICE.signer, recipient=CA.certificate)
    _, content = scep.open_request(request.der, CA.decrypter)
    assert isinstance(content, scep.CertificationRequest)
    assert content.findings == csr.findings


def test_a_mistyped_subject_alt_name_still_refuses_the_request() -> None:
    key = serialization.load_der_private_key(DEVICE.key_der, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    bad_san = x509.UnrecognizedExtension(
        x509.ObjectIdentifier("2.5.29.17"), core.UTF8String("not GeneralNames").dump()
    )
    der = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .add_extension(bad_san, critical=False)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    with pytest.raises(pyscep.ParseError):
        scep.CertificationRequest.load(der)


def test_the_issued_certificate_is_the_one_for_the_key_wherever_it_is() -> None:
    """A CertRep's certificates are a SET, which DER sorts: the chain may come first."""
    from pyscep.testing import fixed_keys

    keys = fixed_keys()
    key = keys.client.public_key_der
    for order in ((keys.ca, keys.client), (keys.client, keys.ca)):
        assert scep.issued_certificate(scep.CertsOnly(certificates=order), key) is keys.client
    with pytest.raises(pyscep.RemoteProtocolError, match="no certificate is for the requested"):
        scep.issued_certificate(scep.CertsOnly(certificates=(keys.ca,)), key)
    with pytest.raises(pyscep.RemoteProtocolError, match="carries no certificate"):
        scep.issued_certificate(scep.CertsOnly(certificates=()), key)

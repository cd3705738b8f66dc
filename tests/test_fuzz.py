"""The fuzz entry point and strategies: only pyscep errors, on mutated input of every kind."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyscep import MessageType, ParseError, PKIStatus
from pyscep.messages.ca import parse_ca_certificates
from pyscep.messages.pkimessage import (
    decrypt_pki_message,
    parse_pki_message,
    verify_cert_rep,
    verify_request,
)
from pyscep.testing import fixed_keys, fuzz_one_input
from pyscep.testing import strategies as scep_st
from tests.support.helpers import NOW

SLOW = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def _extension_as_set(certificate: bytes) -> bytes:
    """The fuzzer's find: the first extension encoded as a SET instead of a SEQUENCE."""
    marker = certificate.index(bytes.fromhex("0603551d"))  # OID 2.5.29.x
    start = certificate.rindex(b"\x30", 0, marker)
    return certificate[:start] + b"\x31" + certificate[start + 1 :]


def test_regression_lazy_extension_error_is_a_parse_error() -> None:
    from pyscep import Certificate
    from pyscep.cms.degenerate import build_certs_only

    bad = _extension_as_set(fixed_keys().ca.der)
    certificate = Certificate.load(bad)  # extensions are decoded on first use...
    for accessor in ("is_ca", "key_usage", "subject_alt_names", "extended_key_usages"):
        with pytest.raises(ParseError):  # ...inside the parse boundary
            getattr(certificate, accessor)
    # The fuzzer's path: CA selection over two certificates reads basicConstraints.
    with pytest.raises(ParseError):
        parse_ca_certificates(build_certs_only([certificate, fixed_keys().client]), now=NOW)
    fuzz_one_input(bad)


@SLOW
@given(scep_st.pki_requests())
def test_generated_requests_are_valid(message: bytes) -> None:
    keys = fixed_keys()
    verified = verify_request(parse_pki_message(message))
    decrypt_pki_message(verified, keys.ca_decrypter)


@SLOW
@given(scep_st.cert_reps())
def test_generated_cert_reps_are_valid(message: bytes) -> None:
    keys = fixed_keys()
    reply = verify_cert_rep(parse_pki_message(message), ca_certificates=[keys.ca])
    if reply.pki_status is PKIStatus.SUCCESS:
        decrypt_pki_message(reply, keys.client_decrypter)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(scep_st.mutated())
def test_mutated_input_only_raises_pyscep_errors_quickly(data: bytes) -> None:
    start = time.perf_counter()
    fuzz_one_input(data)  # any non-ScepError propagates and fails the test
    assert time.perf_counter() - start < 1.0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes(data: bytes) -> None:
    fuzz_one_input(data)


def test_caps_strategy_parses() -> None:
    from pyscep.messages.caps import CACaps

    @settings(max_examples=50, deadline=None)
    @given(scep_st.ca_caps())
    def check(body: bytes) -> None:
        caps = CACaps.parse(body)
        assert caps.keywords == tuple(w for w in body.decode().split() if w)
        assert all(k.value.lower() in body.decode().lower() for k in caps.known)

    check()


def _client_request(kind: MessageType) -> bytes:
    """A request of ``kind`` from the fixed test client to the fixed test CA."""
    from pyscep.messages.build import build_request
    from pyscep.testing._csr import client_csr

    keys = fixed_keys()
    return build_request(
        kind, client_csr(), signer=keys.client_signer, recipient=keys.ca, transaction_id="T"
    ).der


def test_regression_malformed_recipient_issuer_is_a_parse_error() -> None:
    """The fuzzer's second find: an RDN of the recipient's issuer with a wrong tag."""
    from pyscep.messages.inspect import inspect_payload

    keys = fixed_keys()
    message = _client_request(MessageType.PKCS_REQ)
    name = keys.ca.issuer_der  # appears only as the envelope's recipient issuer
    assert message.count(name) == 1
    broken_name = name[:2] + b"\x12" + name[3:]  # the first RDN SET (0x31) becomes 0x12
    broken = message.replace(name, broken_name)
    with pytest.raises(ParseError):
        parse_pki_message(broken, defer=False)
    deferred = parse_pki_message(broken)  # the envelope is read when first used
    with pytest.raises(ParseError):
        verify_request(deferred)
    with pytest.raises(ParseError):
        inspect_payload(broken)
    fuzz_one_input(broken)


def test_regression_a_signer_whose_names_cannot_be_read_is_a_failure() -> None:
    """The fuzzer's find in the responder: the embedded signer's subject made invalid UTF-8
    (its issuer still readable) raised ParseError out of ScepResponder.receive."""
    from datetime import timedelta

    from pyscep.protocol.server import Answered, ResponderConfig, ScepResponder

    keys = fixed_keys()
    message = _client_request(MessageType.RENEWAL_REQ)
    certificate = keys.client.der
    subject = keys.client.subject_der  # self-signed: issuer first, then the same subject
    at = certificate.index(subject, certificate.index(subject) + 1)
    garbled = subject.replace(b"p t", b"\xff\xfft")
    broken = certificate[:at] + garbled + certificate[at + len(subject) :]
    assert message.count(certificate) == 1
    responder = ScepResponder(ResponderConfig(keys.ca, keys.ca_signer, keys.ca_decrypter))
    event = responder.receive(
        "POST",
        "/scep",
        "operation=PKIOperation",
        message.replace(certificate, broken),
        now=keys.ca.not_valid_before + timedelta(days=1),
    )
    assert isinstance(event, Answered)
    assert event.pki_status is PKIStatus.FAILURE
    assert "unreadable request" in event.reason

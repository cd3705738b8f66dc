"""`fuzz_one_input`: one fuzzing entry point for every parser, verify and decrypt step.

Binary parsers get the input as it is (and PEM-armoured); text parsers
(GET ``message=``, scep.conf, inventory JSON, DN patterns) get it decoded
as Latin-1, so every byte string is also a text input.

Usable directly as an atheris/libFuzzer target (see fuzz/ in the source tree).
Every input must end in a result or a `ScepError`: anything else escapes and
is reported by the fuzzer as a crash.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import cache
from typing import TypeVar

from pyscep.algorithms import LEGACY
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import parse_certs_only
from pyscep.cms.enveloped import (
    decrypt_envelope,
    open_with_key,
    open_with_password,
    parse_auth_enveloped_data,
    parse_enveloped_data,
)
from pyscep.cms.signed import parse_signed_data, verify_signed_data
from pyscep.crypto import PrivateKey, load_private_key
from pyscep.errors import ScepError
from pyscep.http import decode_get_message, read_request
from pyscep.messages.ca import parse_ca_certificates, parse_next_ca_certificates
from pyscep.messages.caps import CACaps
from pyscep.messages.content import CertificationRequest, IssuerAndSerial, IssuerAndSubject
from pyscep.messages.inspect import describe_certificate, describe_content, inspect_payload
from pyscep.messages.pkimessage import (
    decrypt_pki_message,
    parse_pki_message,
    verify_cert_rep,
    verify_request,
)
from pyscep.policy import (
    DistinguishedName,
    NamePattern,
    inventory_from_json,
    parse_scep_conf,
)
from pyscep.protocol.server import ResponderConfig, ScepResponder
from pyscep.testing.keys import fixed_keys
from pyscep.testing.seeded import SeededBackend

__all__ = ["fuzz_one_input"]

_T = TypeVar("_T")


def _quietly(step: Callable[[], _T]) -> _T | None:
    try:
        return step()
    except ScepError:
        return None


def _pem(data: bytes) -> bytes:
    """``data`` armoured as PEM, as a GetCACert body or a certificate file may be."""
    return (
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(data) + b"-----END CERTIFICATE-----\n"
    )


@cache
def _ml_kem_key() -> PrivateKey:
    """A fixed ML-KEM-768 key, so fuzzed KEM recipients reach decapsulation and unwrap."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import mlkem

    key = mlkem.MLKEM768PrivateKey.from_seed_bytes(bytes(range(64)))
    return load_private_key(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def fuzz_one_input(data: bytes) -> None:
    """Feed ``data`` to every parser and, where it parses, to verify and decrypt.

    Returns None; raises only what is not a ScepError (a bug in pyscep).
    """
    keys = fixed_keys()
    backend = SeededBackend()  # so a finding replays the same way every time
    _quietly(lambda: parse_certs_only(data))
    for parse in (parse_enveloped_data, parse_auth_enveloped_data):
        envelope = _quietly(lambda: parse(data))  # noqa: B023 - called at once
        if envelope is None:
            continue
        # Key agreement, KEM and password recipients: opened with keys and a password.
        _quietly(lambda: open_with_password(envelope, b"fuzz", backend=backend, algorithms=LEGACY))  # noqa: B023
        _quietly(
            lambda: decrypt_envelope(
                envelope,  # noqa: B023
                keys.ec_decrypter,
                backend=backend,
                algorithms=LEGACY,
            )
        )
        _quietly(lambda: open_with_key(envelope, _ml_kem_key(), backend=backend, algorithms=LEGACY))  # noqa: B023
    signed = _quietly(lambda: parse_signed_data(data))
    if signed is not None:
        # Any SignedData, with or without signed attributes (ML-DSA among the signers).
        _quietly(
            lambda: verify_signed_data(
                signed, backend=backend, algorithms=LEGACY, require_signed_attributes=False
            )
        )
    # Private keys in every PKCS#8 form (ML-DSA and ML-KEM seeds, expanded keys, both).
    _quietly(lambda: load_private_key(data))
    _quietly(lambda: parse_ca_certificates(data, now=keys.ca.not_valid_before))
    _quietly(lambda: parse_next_ca_certificates(data, [keys.ca], algorithms=LEGACY))
    _quietly(lambda: CACaps.parse(data))
    csr = _quietly(lambda: CertificationRequest.load(data))
    if csr is not None:
        _quietly(lambda: describe_content(csr))  # what it decodes on first use
    _quietly(lambda: IssuerAndSubject.load(data))
    _quietly(lambda: IssuerAndSerial.load(data))
    certificate = _quietly(lambda: Certificate.load(data))
    if certificate is not None:
        # Loading only outlines a certificate: the rest is decoded on first use.
        _quietly(lambda: describe_certificate(certificate))
    text = data.decode("latin-1")
    _quietly(lambda: decode_get_message(text))
    # The other parsers of outside text: PEM (GetCACert bodies, certificate
    # files), scep.conf, the inventory JSON and DN patterns.
    _quietly(lambda: parse_ca_certificates(_pem(data), now=keys.ca.not_valid_before))
    _quietly(lambda: Certificate.load_all(_pem(data)))
    _quietly(lambda: parse_scep_conf(text))
    _quietly(lambda: inventory_from_json(text, lambda _: data))
    _quietly(lambda: NamePattern.parse(text))
    _quietly(lambda: DistinguishedName.parse(text))
    # The server's door: whatever arrives by HTTP ends in one event, never raises.
    responder = ScepResponder(
        ResponderConfig(ca_certificate=keys.ca, signer=keys.ca_signer, decrypter=keys.ca_decrypter)
    )
    _quietly(lambda: read_request("GET", "/scep", text, data))
    moment = keys.ca.not_valid_before
    responder.receive("POST", "/scep", "operation=PKIOperation", data, now=moment)
    responder.receive("GET", "/scep", text, now=moment)
    _quietly(lambda: inspect_payload(data, certificates=[keys.ca]))
    message = _quietly(lambda: parse_pki_message(data))
    if message is None:
        return
    request = _quietly(lambda: verify_request(message, algorithms=LEGACY))
    if request is not None:
        _quietly(
            lambda: decrypt_pki_message(
                request, keys.ca_decrypter, algorithms=LEGACY, backend=backend
            )
        )
    reply = _quietly(lambda: verify_cert_rep(message, ca_certificates=[keys.ca], algorithms=LEGACY))
    if reply is not None:
        _quietly(
            lambda: decrypt_pki_message(
                reply, keys.client_decrypter, algorithms=LEGACY, backend=backend
            )
        )

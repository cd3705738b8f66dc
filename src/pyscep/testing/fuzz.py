"""`fuzz_one_input`: one fuzzing entry point for every parser, verify and decrypt step.

Usable directly as an atheris/libFuzzer target (see fuzz/ in the source tree).
Every input must end in a result or a `ScepError`: anything else escapes and
is reported by the fuzzer as a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pyscep.algorithms import LEGACY
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import parse_certs_only
from pyscep.cms.enveloped import parse_enveloped_data
from pyscep.errors import ScepError
from pyscep.http import decode_get_message
from pyscep.messages.ca import parse_ca_certificates, parse_next_ca_certificates
from pyscep.messages.caps import CACaps
from pyscep.messages.content import CertificationRequest, IssuerAndSerial, IssuerAndSubject
from pyscep.messages.inspect import inspect_payload
from pyscep.messages.pkimessage import (
    decrypt_pki_message,
    parse_pki_message,
    verify_cert_rep,
    verify_request,
)
from pyscep.testing.keys import fixed_keys
from pyscep.testing.seeded import SeededBackend

__all__ = ["fuzz_one_input"]

_T = TypeVar("_T")


def _quietly(step: Callable[[], _T]) -> _T | None:
    try:
        return step()
    except ScepError:
        return None


def fuzz_one_input(data: bytes) -> None:
    """Feed ``data`` to every parser and, where it parses, to verify and decrypt.

    Returns None; raises only what is not a ScepError (a bug in pyscep).
    """
    keys = fixed_keys()
    backend = SeededBackend()  # so a finding replays the same way every time
    _quietly(lambda: parse_certs_only(data))
    _quietly(lambda: parse_enveloped_data(data))
    _quietly(lambda: parse_ca_certificates(data, now=keys.ca.not_valid_before))
    _quietly(lambda: parse_next_ca_certificates(data, [keys.ca], algorithms=LEGACY))
    _quietly(lambda: CACaps.parse(data))
    _quietly(lambda: CertificationRequest.load(data))
    _quietly(lambda: IssuerAndSubject.load(data))
    _quietly(lambda: IssuerAndSerial.load(data))
    _quietly(lambda: Certificate.load(data))
    _quietly(lambda: decode_get_message(data.decode("latin-1")))
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

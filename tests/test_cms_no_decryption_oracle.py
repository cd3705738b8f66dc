"""No decryption oracle: every failure is one exception, one text, one path.

Wycheproof's rule for PKCS#1 v1.5 padding failures ("collect the exceptions
... and check that they are all exactly identical"), applied to every way a
pkcsPKIEnvelope can fail to open.
"""

from __future__ import annotations

from collections.abc import Callable

from asn1crypto import core

from pyscep import ContentCipher, CryptoBackend, DecryptionError, FailInfo, ParseError, ScepError
from pyscep.messages.pkimessage import decrypt_pki_message, parse_pki_message, verify_request
from pyscep.testing import SeededBackend, fixed_keys
from tests.support.catalog import (
    eci,
    encrypted_key,
    for_someone_else,
    ktri,
    set_ciphertext,
    valid,
    with_envelope,
)

KEYS = fixed_keys()


class CountingBackend:
    """The default backend, counting symmetric decryptions (the path taken)."""

    def __init__(self, inner: CryptoBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.decryptions = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def decrypt_content(self, cipher: ContentCipher, key: bytes, iv: bytes, data: bytes) -> bytes:
        self.decryptions += 1
        return self.inner.decrypt_content(cipher, key, iv, data)


FAILURES: dict[str, Callable[[], bytes]] = {
    "bad PKCS#1 padding": lambda: with_envelope(
        lambda i: ktri(i).__setitem__("encrypted_key", b"\x00" * 256)
    ),
    "wrong content-key length": lambda: with_envelope(
        lambda i: ktri(i).__setitem__("encrypted_key", encrypted_key(b"k" * 13))
    ),
    "wrong recipient": for_someone_else,
    "bad CBC padding": lambda: with_envelope(lambda i: set_ciphertext(i, b"\x01" * 32)),
    "truncated ciphertext": lambda: with_envelope(lambda i: set_ciphertext(i, b"\x01" * 15)),
    "IV of the wrong length": lambda: with_envelope(
        lambda i: eci(i)["content_encryption_algorithm"].__setitem__(
            "parameters", core.OctetString(b"\x00" * 5)
        )
    ),
    "IV missing": lambda: with_envelope(
        lambda i: eci(i)["content_encryption_algorithm"].__setitem__("parameters", None)
    ),
}


def _attempt(data: bytes) -> tuple[BaseException | None, int]:
    # Seeded: with a truly random fallback key, one run in ~256 gets valid CBC
    # padding and fails later, in the CSR parser, exactly as an unknown wrong
    # key would. The test compares paths, so it must not depend on that luck.
    backend = CountingBackend(SeededBackend())
    message = verify_request(parse_pki_message(data))
    try:
        decrypt_pki_message(message, KEYS.ca_decrypter, backend=backend)  # type: ignore[arg-type]
    except DecryptionError as exc:
        return exc, backend.decryptions
    return None, backend.decryptions


def test_all_failures_are_identical() -> None:
    seen = {}
    for name, make in FAILURES.items():
        error, _ = _attempt(make())
        assert isinstance(error, DecryptionError), name
        assert error.__cause__ is None, name
        assert error.__context__ is None, name
        seen[name] = (type(error), str(error), error.fail_info, error.args)
    assert len(set(seen.values())) == 1, seen


def test_key_transport_failures_take_the_path_of_success() -> None:
    _, success_path = _attempt(valid())
    assert success_path == 1
    for name in ("bad PKCS#1 padding", "wrong content-key length", "bad CBC padding"):
        _, path = _attempt(FAILURES[name]())
        assert path == success_path, name  # a random key went through the CBC step


def test_a_lucky_fallback_key_fails_later_and_the_same_way() -> None:
    """One fallback key in ~256 passes the CBC padding check: then every
    key-transport failure ends in the same content-parse error, so the
    outcome still says nothing about why the key transport failed."""
    transport_failures = ("bad PKCS#1 padding", "wrong content-key length")
    inputs = {name: FAILURES[name]() for name in transport_failures}
    for seed in range(4096):
        backend = SeededBackend(seed=seed.to_bytes(2, "big"))
        outcomes = set()
        for name, data in inputs.items():
            try:
                decrypt_pki_message(
                    verify_request(parse_pki_message(data)), KEYS.ca_decrypter, backend=backend
                )
            except ScepError as exc:
                outcomes.add((type(exc), str(exc), exc.fail_info))
            else:
                raise AssertionError(f"{name} decrypted to a valid request")
        assert len(outcomes) == 1, (seed, outcomes)
        (kind, _, fail_info) = outcomes.pop()
        if kind is ParseError:
            assert fail_info is FailInfo.BAD_REQUEST
            return
        assert kind is DecryptionError
    raise AssertionError("no seed in 4096 gave a fallback key with valid CBC padding")

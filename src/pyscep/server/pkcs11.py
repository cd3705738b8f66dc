"""CA and RA keys in a PKCS#11 token (an HSM; SoftHSM2 in the tests), named by RFC 7512 URIs.

``pkcs11:token=scep;object=ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/pyscep/pin``

The key never leaves the token: `Pkcs11Key` asks the token to sign and to
open key transport, through python-pkcs11 (``pip install 'pyscep-sansio[hsm]'``;
a maintained binding with wheels for every platform, typed, and a
Pythonic session and mechanism API, where PyKCS11 is a SWIG mirror of the C
API). The PIN comes from the URI's ``pin-source`` (a file) or from
``PYSCEP_PKCS11_PIN``; a ``pin-value`` in the URI is refused, since URIs end up
on command lines and in process listings. Each key declares what its token
can do (`KeyCapabilities`), read from the token's mechanism list.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from pyscep._appkit.durable import UnsafeFileError, read_secret_lines
from pyscep.algorithms import DigestAlgorithm, KeyTransport, SignatureScheme
from pyscep.errors import BackendError, KeyLoadError, UnsupportedAlgorithmError

__all__ = ["PIN_VARIABLE", "KeyCapabilities", "Pkcs11Key", "Pkcs11URI", "capabilities_of"]

#: Where the PIN is read from when the URI names no ``pin-source``.
PIN_VARIABLE = "PYSCEP_PKCS11_PIN"

# manufacturer and model are not taken: matching on fewer attributes than the URI names
# would widen what it names.
_PATH_ATTRIBUTES = frozenset({"token", "object", "id", "type", "serial"})
_QUERY_ATTRIBUTES = frozenset({"module-path", "pin-source", "pin-value"})


@dataclass(frozen=True)
class Pkcs11URI:
    """An RFC 7512 URI naming one private key, and the module that reaches it."""

    module_path: Path
    token: str | None = None
    object: str | None = None
    id: bytes | None = None
    serial: str | None = None
    #: The file holding the PIN (``pin-source=file:/path``), if the URI names one.
    pin_source: Path | None = None

    @classmethod
    def parse(cls, text: str) -> Pkcs11URI:
        """Read ``pkcs11:...``; KeyLoadError says what is wrong with it."""
        if not text.startswith("pkcs11:"):
            raise KeyLoadError("a PKCS#11 URI starts with pkcs11:")
        path, _, query = text[len("pkcs11:") :].partition("?")
        found: dict[str, str] = {}
        for part, known, separator in (
            (path, _PATH_ATTRIBUTES, ";"),
            (query, _QUERY_ATTRIBUTES, "&"),
        ):
            for attribute in filter(None, part.split(separator)):
                name, equals, value = attribute.partition("=")
                if not equals or name not in known:
                    # The name only: a mistyped pin attribute must not print its value.
                    raise KeyLoadError(
                        f"the PKCS#11 URI attribute {name!r} is not one of"
                        f" {', '.join(sorted(known))}"
                    )
                if name in found:
                    raise KeyLoadError(f"the PKCS#11 URI names {name} twice")
                found[name] = value
        if "pin-value" in found:
            raise KeyLoadError(
                "a PIN in the PKCS#11 URI would be seen in process listings: use"
                f" pin-source=file:PATH, or {PIN_VARIABLE}"
            )
        if "module-path" not in found:
            raise KeyLoadError("the PKCS#11 URI needs module-path=/path/to/the/module.so")
        if found.get("type", "private") != "private":
            raise KeyLoadError("the PKCS#11 URI must name a private key (type=private)")
        if "object" not in found and "id" not in found:
            raise KeyLoadError("the PKCS#11 URI must name the key: object=LABEL or id=%XX...")

        def text_of(name: str) -> str | None:
            if name not in found:
                return None
            try:
                return unquote_to_bytes(found[name]).decode()
            except UnicodeDecodeError:
                raise KeyLoadError(f"the PKCS#11 URI's {name} is not UTF-8") from None

        source = text_of("pin-source")
        if source is not None and source.startswith("file:"):
            source = source[len("file:") :]
        return cls(
            module_path=Path(text_of("module-path") or ""),
            token=text_of("token"),
            object=text_of("object"),
            id=unquote_to_bytes(found["id"]) if "id" in found else None,
            serial=text_of("serial"),
            pin_source=None if source is None else Path(source),
        )

    def pin(self, environment: Mapping[str, str]) -> str:
        """The user PIN: the ``pin-source`` file's first line (as it is, spaces included), or
        ``PYSCEP_PKCS11_PIN``. A PIN file others may read is refused, as a key file would be."""
        if self.pin_source is not None:
            try:
                lines = read_secret_lines(self.pin_source, "the PIN file")
            except UnsafeFileError as exc:
                raise KeyLoadError(str(exc)) from None
            pin = lines[0] if lines else ""
        else:
            pin = environment.get(PIN_VARIABLE, "")
        if not pin:
            raise KeyLoadError(
                f"the token's PIN: pin-source=file:PATH in the URI, or {PIN_VARIABLE}"
                " (an empty PIN is refused)"
            )
        return pin


@dataclass(frozen=True)
class KeyCapabilities:
    """What a key's backend can do: the signature schemes, the key transports it opens
    and whether it agrees keys (ECDH). A cloud KMS, say, decrypts RSA-OAEP only."""

    signature_schemes: frozenset[SignatureScheme]
    key_transports: frozenset[KeyTransport]
    key_agreement: bool = False
    #: The digests it signs with; None: any (pyscep hashes, the token signs the hash, as
    #: here). The server offers no other in GetCACaps and refuses requests that ask for
    #: another before decrypting them.
    digests: frozenset[DigestAlgorithm] | None = None


def capabilities_of(key: object) -> KeyCapabilities | None:
    """What a key's backend says it can do (`Pkcs11Key.capabilities`); None for a key that
    says nothing, such as one of a file: everything pyca/cryptography does."""
    capabilities = getattr(key, "capabilities", None)
    return capabilities if isinstance(capabilities, KeyCapabilities) else None


#: The DER DigestInfo prefix of each digest (RFC 8017 section 9.2, note 1): what
#: CKM_RSA_PKCS signs, followed by the hash.
_DIGEST_INFO = {
    DigestAlgorithm.MD5: bytes.fromhex("3020300c06082a864886f70d020505000410"),
    DigestAlgorithm.SHA1: bytes.fromhex("3021300906052b0e03021a05000414"),
    DigestAlgorithm.SHA224: bytes.fromhex("302d300d06096086480165030402040500041c"),
    DigestAlgorithm.SHA256: bytes.fromhex("3031300d060960864801650304020105000420"),
    DigestAlgorithm.SHA384: bytes.fromhex("3041300d060960864801650304020205000430"),
    DigestAlgorithm.SHA512: bytes.fromhex("3051300d060960864801650304020305000440"),
}


def _token_name(uri: Pkcs11URI) -> str:
    return repr(uri.token) if uri.token is not None else f"with serial {uri.serial!r}"


def _key_name(uri: Pkcs11URI) -> str:
    return repr(uri.object) if uri.object is not None else f"with id {(uri.id or b'').hex()}"


def _module(uri: Pkcs11URI) -> Any:
    try:
        import pkcs11
    except ImportError:
        raise KeyLoadError(
            "keys in a token need python-pkcs11: pip install 'pyscep-sansio[hsm]'"
        ) from None
    try:
        return pkcs11, pkcs11.lib(str(uri.module_path))
    except (RuntimeError, OSError) as exc:
        raise KeyLoadError(f"cannot load the PKCS#11 module {uri.module_path}: {exc}") from None


#: The PIN each token was logged in with, by (module, token): a login belongs to the
#: process, not to a session, as PKCS#11 has it (this mirrors that state, it adds none).
_LOGINS: dict[tuple[str, str], str] = {}
_LOGINS_LOCK = threading.Lock()


def _open_session(pkcs11: Any, token: Any, uri: Pkcs11URI, pin: str) -> Any:
    """A session on ``token``, logged in with ``pin``; a token this process logged in to
    already must be given the same PIN (the token cannot check it again)."""
    where = (str(uri.module_path), bytes(token.serial).hex())
    with _LOGINS_LOCK:
        earlier = _LOGINS.get(where)
        if earlier is not None:
            if earlier != pin:
                raise KeyLoadError(
                    "another PIN than the one this process logged in to the token with"
                )
            try:
                return token.open(user_pin=pin)
            except pkcs11.exceptions.UserAlreadyLoggedIn:
                return token.open()
        session = token.open(user_pin=pin)
        _LOGINS[where] = pin
        return session


class Pkcs11Key:
    """A `PrivateKey` whose operations run in the token: it is never read out.

    One session per key, opened when it is made and used by one thread at a time
    (a gunicorn worker makes its own after the fork).
    """

    def __init__(self, uri: Pkcs11URI, *, public_key_der: bytes, pin: str) -> None:
        pkcs11, library = _module(uri)
        self._pkcs11 = pkcs11
        self.uri = uri
        self._public_key_der = public_key_der
        try:
            serial = None if uri.serial is None else uri.serial.encode()
            token = library.get_token(token_label=uri.token, token_serial=serial)
            self._session = _open_session(pkcs11, token, uri, pin)
            self._key = self._session.get_key(
                object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=uri.object, id=uri.id
            )
            mechanisms = frozenset(token.slot.get_mechanisms())
        except pkcs11.exceptions.PinIncorrect:
            raise KeyLoadError("the token refused the PIN") from None
        except pkcs11.exceptions.NoSuchToken:
            raise KeyLoadError(f"no token {_token_name(uri)} in {uri.module_path}") from None
        except pkcs11.exceptions.MultipleTokensReturned:
            raise KeyLoadError(f"several tokens in {uri.module_path}: add token=LABEL") from None
        except pkcs11.exceptions.NoSuchKey:
            raise KeyLoadError(
                f"no private key {_key_name(uri)} in token {_token_name(uri)}"
            ) from None
        except pkcs11.exceptions.MultipleObjectsReturned:
            raise KeyLoadError("the PKCS#11 URI names several keys: add id=...") from None
        except pkcs11.exceptions.PKCS11Error as exc:
            raise KeyLoadError(f"the token: {type(exc).__name__}") from None
        self._lock = threading.Lock()
        #: The process that opened the session: a forked child must open its own.
        self._pid = os.getpid()
        self._rsa = self._key.key_type == pkcs11.KeyType.RSA
        attributes = pkcs11.Attribute
        with self._token_errors():
            may_sign = bool(self._key[attributes.SIGN])
            may_decrypt = self._rsa and bool(self._key[attributes.DECRYPT])
        self.capabilities = self._capabilities(mechanisms, may_sign, may_decrypt)

    def _capabilities(
        self, mechanisms: frozenset[Any], may_sign: bool, may_decrypt: bool
    ) -> KeyCapabilities:
        """What the token's mechanisms allow, and the key's own CKA_SIGN and CKA_DECRYPT."""
        m = self._pkcs11.Mechanism
        signs = {m.RSA_PKCS, m.RSA_PKCS_PSS, m.ECDSA} & mechanisms if may_sign else set()
        opens = {m.RSA_PKCS, m.RSA_PKCS_OAEP} & mechanisms if may_decrypt else set()
        if not self._rsa:
            ecdsa = {SignatureScheme.ECDSA} if m.ECDSA in signs else set()
            return KeyCapabilities(frozenset(ecdsa), frozenset())
        schemes = {
            scheme
            for mechanism, scheme in (
                (m.RSA_PKCS, SignatureScheme.RSA_PKCS1V15),
                (m.RSA_PKCS_PSS, SignatureScheme.RSA_PSS),
            )
            if mechanism in signs
        }
        # OAEP with SHA-1 only: PKCS#11 lists no hashes per mechanism, and SHA-1 is the one
        # every token that has CKM_RSA_PKCS_OAEP takes (SoftHSM2 takes no other).
        transports = {
            transport
            for mechanism, transport in (
                (m.RSA_PKCS, KeyTransport()),
                (m.RSA_PKCS_OAEP, KeyTransport(DigestAlgorithm.SHA1)),
            )
            if mechanism in opens
        }
        return KeyCapabilities(frozenset(schemes), frozenset(transports))

    def _hash_and_mgf(self, digest: DigestAlgorithm) -> tuple[Any, Any]:
        """The PKCS#11 hash mechanism and MGF1 of ``digest`` (PSS and OAEP parameters)."""
        name = digest.name
        return getattr(self._pkcs11.Mechanism, "SHA_1" if name == "SHA1" else name), getattr(
            self._pkcs11.MGF, name
        )

    @contextlib.contextmanager
    def _token_errors(self) -> Iterator[None]:
        """A token's refusal as a BackendError (a ScepError), named by its PKCS#11 code."""
        if os.getpid() != self._pid:
            raise BackendError(
                "a token key opened before a fork cannot be used after it: open it in each"
                " worker (no gunicorn --preload)"
            )
        try:
            yield
        except self._pkcs11.exceptions.PKCS11Error as exc:
            raise BackendError(f"the token refused: {type(exc).__name__}") from None
        except AttributeError:  # python-pkcs11 gives a key without CKA_SIGN no sign()
            raise BackendError("the token does not allow this key that operation") from None

    @property
    def public_key_der(self) -> bytes:
        """The DER SubjectPublicKeyInfo (of the certificate the key was opened with)."""
        return self._public_key_der

    def sign(self, data: bytes, digest: DigestAlgorithm, scheme: SignatureScheme) -> bytes:
        """Sign in the token. The hash is made here and the token signs it with its raw
        mechanism (CKM_RSA_PKCS over a DigestInfo, CKM_RSA_PKCS_PSS, CKM_ECDSA): what the
        capabilities were read from, and what every token has, for every digest."""
        m = self._pkcs11.Mechanism
        hashed = hashlib.new(digest.value, data).digest()
        if self._rsa and scheme is SignatureScheme.RSA_PKCS1V15:
            mechanism, parameter = m.RSA_PKCS, None
            hashed = _DIGEST_INFO[digest] + hashed
        elif self._rsa and scheme is SignatureScheme.RSA_PSS and digest is not DigestAlgorithm.MD5:
            mechanism = m.RSA_PKCS_PSS
            parameter = (*self._hash_and_mgf(digest), digest.digest_size)
        elif (
            not self._rsa and scheme is SignatureScheme.ECDSA and digest is not DigestAlgorithm.MD5
        ):
            mechanism, parameter = m.ECDSA, None
        else:
            raise UnsupportedAlgorithmError(
                f"{scheme.value} with {digest.value} does not fit this key"
            )
        with self._lock, self._token_errors():
            signature = bytes(
                self._key.sign(hashed, mechanism=mechanism, mechanism_param=parameter)
            )
        if not self._rsa:
            from pkcs11.util.ec import encode_ecdsa_signature

            return bytes(encode_ecdsa_signature(signature))  # raw r||s to DER
        return signature

    def decrypt_key(self, encrypted_key: bytes, transport: KeyTransport) -> bytes:
        """Open an RSA key transport in the token (any failure raises; the caller makes
        every failure look the same)."""
        if not self._rsa:
            raise UnsupportedAlgorithmError("key transport needs an RSA key")
        m = self._pkcs11.Mechanism
        if transport.oaep_hash is None:
            mechanism, parameter = m.RSA_PKCS, None
        else:
            mechanism = m.RSA_PKCS_OAEP
            parameter = (*self._hash_and_mgf(transport.oaep_hash), None)
        with self._lock, self._token_errors():
            return bytes(
                self._key.decrypt(encrypted_key, mechanism=mechanism, mechanism_param=parameter)
            )

"""The reference server's CA: keys and certificates in a state directory.

Created on first start (under a lock, so workers starting together make one
CA): ``ca.pem`` / ``ca.key``, with ``--ra`` an RA certificate (sign and
encrypt) ``ra.pem`` / ``ra.key``, with ``--next-ca`` a rollover CA
``next-ca.pem`` / ``next-ca.key``. Keys are written 0600, every file as
`durable.SafeDirectory` writes them (exclusively, never through a link), in a
directory made 0700 that nobody else may write.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from asn1crypto import pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from pyscep._appkit.durable import SafeDirectory, write_durably
from pyscep._appkit.keys import new_private_key
from pyscep.algorithms import DEFAULT_POLICY, DigestAlgorithm, KeyTransport
from pyscep.certificate import Certificate
from pyscep.cms.signed import default_scheme
from pyscep.crypto import KeyPair, PrivateKey, get_backend, kem_backend, load_private_key
from pyscep.crypto.signed_object import is_issued_by
from pyscep.errors import BackendError, ScepError
from pyscep.messages.identity import KeyToCertify, issue_certificate, self_signed_certificate

from .pkcs11 import capabilities_of

__all__ = [
    "CA_KEY_TYPES",
    "CAConfigError",
    "FileCA",
    "open_chain",
    "open_key_pair",
    "read_certificates",
    "write_private",
]

#: The keys a CA of ``pyscep serve`` can have: they sign certificates and CertReps and
#: open requests (an Ed25519 key only signs, so it cannot be the CA here). An ML-DSA CA
#: (the post-quantum profile, opt-in) signs; its RA's ML-KEM key opens the requests.
CA_KEY_TYPES: tuple[str, ...] = ("rsa2048", "rsa3072", "rsa4096", "ec-p256", "ec-p384")
CA_KEY_TYPES += ("ec-p521", "ml-dsa-44", "ml-dsa-65", "ml-dsa-87")
#: The RA key a post-quantum CA gets: ML-KEM-768 (NIST category 3), or -1024 beside
#: ML-DSA-87 (category 5).
_POST_QUANTUM_RA = {"ml-dsa-44": "ml-kem-768", "ml-dsa-65": "ml-kem-768"}
_POST_QUANTUM_RA["ml-dsa-87"] = "ml-kem-1024"


class CAConfigError(ScepError):
    """The CA of a state directory cannot be opened or made as asked (a mistyped path?)."""


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by its owner only (0600), replacing any old file."""
    write_durably(path, data, mode=0o600)


_Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _key(kind: str) -> _Key:
    key = serialization.load_pem_private_key(new_private_key(kind), None)
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
    return key


def _pem_key(key: _Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    subject: str,
    key: _Key,
    *,
    issuer: tuple[x509.Name, _Key] | None,
    now: datetime,
    ca: bool,
) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pyscep serve"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject),
        ]
    )
    issuer_name, issuer_key = issuer if issuer is not None else (name, key)
    is_ec = isinstance(key, ec.EllipticCurvePrivateKey)
    usage = {
        "digital_signature": True,
        "content_commitment": False,
        # What opens requests: RSA key transport for an RSA RA, ECDH for an EC key.
        "key_encipherment": not ca and not is_ec,
        "data_encipherment": False,
        "key_agreement": is_ec,
        "key_cert_sign": ca,
        "crl_sign": ca,
        "encipher_only": False,
        "decipher_only": False,
    }
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650 if ca else 730))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


@dataclass(frozen=True)
class FileCA:
    """The CA (and optional RA and next CA) of one state directory."""

    ca: KeyPair
    ra: KeyPair | None
    next_ca: KeyPair | None
    #: An existing intermediate CA's issuers, from the CA upward (``--ca-chain``).
    chain: tuple[Certificate, ...] = ()

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        ra: bool,
        next_ca: bool,
        now: datetime,
        ca_key_type: str = "rsa2048",
        create: bool = True,
    ) -> FileCA:
        """Load the CA of ``directory``, creating what is missing (a new CA of ``ca_key_type``).

        The RA, when asked for, is RSA: every SCEP client can encrypt to it. An ML-DSA
        CA always has an RA, whose ML-KEM key opens the requests (`_POST_QUANTUM_RA`). With
        ``create=False`` (the operator's commands) nothing is created: a directory
        without a CA raises `CAConfigError` instead of growing a new CA.
        """
        if not create:
            if not (directory / "ca.pem").is_file() or not (directory / "ca.key").is_file():
                raise CAConfigError(
                    f"{directory} holds no pyscep serve CA (no ca.pem and ca.key):"
                    " is it the --state-dir the server runs with?"
                )
            ra = ra and (directory / "ra.pem").is_file()
            next_ca = next_ca and (directory / "next-ca.pem").is_file()
        if ca_key_type not in CA_KEY_TYPES:
            raise CAConfigError(
                f"a CA key cannot be {ca_key_type!r}: one of {', '.join(CA_KEY_TYPES)}"
                " (an Ed25519 key only signs: it cannot open requests)"
            )
        ra_key_type = _POST_QUANTUM_RA.get(ca_key_type, "rsa2048")
        ra = ra or ca_key_type in _POST_QUANTUM_RA
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Workers starting together make one CA: they take turns on the lock.
        with SafeDirectory(directory) as here, here.lock(".lock", wait=True):
            ca_pair = _load_or_create(
                directory, "ca", "pyscep serve CA", None, now, ca=True, key_type=ca_key_type
            )
            ra_pair = (
                _load_or_create(
                    directory,
                    "ra",
                    "pyscep serve RA",
                    ca_pair,
                    now,
                    ca=False,
                    key_type=ra_key_type,
                )
                if ra
                else None
            )
            next_pair = (
                _load_or_create(
                    directory,
                    "next-ca",
                    "pyscep serve next CA",
                    None,
                    now,
                    ca=True,
                    key_type=ca_key_type,
                )
                if next_ca
                else None
            )
        return cls(ca_pair, ra_pair, next_pair)


def read_certificates(path: Path, what: str) -> list[Certificate]:
    """The certificates of the PEM or DER file ``path`` (``what`` it is, for the error:
    CAConfigError when it cannot be read or holds no certificate)."""
    try:
        return Certificate.load_all(path.read_bytes())
    except OSError as exc:
        raise CAConfigError(f"{what} {path}: {exc.strerror}") from None
    except ScepError as exc:
        raise CAConfigError(f"{what} {path}: {exc}") from None


def _open_key(spec: str, certificate: Certificate, environment: Mapping[str, str]) -> PrivateKey:
    if spec.startswith("pkcs11:"):
        from .pkcs11 import Pkcs11Key, Pkcs11URI

        uri = Pkcs11URI.parse(spec)
        return Pkcs11Key(uri, public_key_der=certificate.public_key_der, pin=uri.pin(environment))
    try:
        return load_private_key(Path(spec).read_bytes())
    except OSError as exc:
        raise CAConfigError(f"the key {spec}: {exc.strerror}") from None


def open_key_pair(
    certificate_file: Path,
    key: str,
    *,
    role: str,
    decrypts: bool,
    environment: Mapping[str, str] | None = None,
) -> KeyPair:
    """The certificate of ``certificate_file`` with its key: a PEM or DER file, or an RFC
    7512 ``pkcs11:`` URI (the key stays in the token). Checked before a server starts: the
    key signs what the certificate verifies, and (``decrypts``) the key opens
    RSAES-PKCS1-v1_5, the key transport SCEP clients send, or is an EC key that agrees."""
    certificate = read_certificates(certificate_file, f"the {role} certificate")[0]
    private = _open_key(key, certificate, os.environ if environment is None else environment)
    family = certificate.public_key.family
    parameter_set = certificate.public_key.parameter_set
    if parameter_set is not None and parameter_set.is_kem:
        return _kem_key_pair(private, certificate, role=role, decrypts=decrypts)
    if parameter_set is not None and decrypts:
        raise CAConfigError(
            f"the {role} key is {parameter_set.title}, which only signs: give an RA whose"
            " ML-KEM key opens the requests (--ra-cert, --ra-key)"
        )
    if family not in ("rsa", "ec") and parameter_set is None:
        raise CAConfigError(f"the {role} key is {family}: it must be RSA, EC or ML-DSA")
    try:
        scheme = default_scheme(certificate)
    except ScepError:  # an RSASSA-PSS-only key: no PKCS#1 v1.5 signature for SCEP clients
        raise CAConfigError(f"the {role} key is {family}: it must be RSA or EC") from None
    capabilities = capabilities_of(private)
    if capabilities is not None and scheme not in capabilities.signature_schemes:
        raise CAConfigError(f"the {role} key's token cannot sign with {scheme.value}")
    digests = None if capabilities is None else capabilities.digests
    if digests is not None and DigestAlgorithm.SHA256 not in digests:
        # Certificates, CRLs and the CertReps of SCEPStandard clients are signed with it.
        raise CAConfigError(f"the {role} key's backend cannot sign with SHA-256")
    opens = capabilities is None or KeyTransport() in capabilities.key_transports
    if decrypts and family == "rsa" and not opens:
        raise CAConfigError(
            f"the {role} key's token cannot open RSAES-PKCS1-v1_5, the key transport SCEP"
            " clients send: give the requests to a key that can (an RA)"
        )
    if decrypts and family == "ec" and capabilities is not None and not capabilities.key_agreement:
        raise CAConfigError(f"the {role} key's token cannot agree keys (ECDH): use an RSA RA")
    probe = b"pyscep: does the key match its certificate?"
    try:
        signature = private.sign(probe, DigestAlgorithm.SHA256, scheme)
        get_backend().verify_signature(
            certificate.public_key_der, signature, probe, DigestAlgorithm.SHA256, scheme
        )
    except BackendError as exc:  # the token refused: say so, not "does not match"
        raise CAConfigError(f"the {role} key cannot sign: {exc}") from None
    except ScepError:
        raise CAConfigError(f"the {role} key does not match {certificate_file}") from None
    return KeyPair(private, certificate)


def _kem_key_pair(
    private: PrivateKey, certificate: Certificate, *, role: str, decrypts: bool
) -> KeyPair:
    """An ML-KEM RA: it opens requests and signs nothing; the key must decapsulate what
    is encapsulated to its certificate."""
    title = (
        certificate.public_key.parameter_set.title if certificate.public_key.parameter_set else ""
    )
    if not decrypts:
        raise CAConfigError(f"the {role} key is {title}: it opens requests, it cannot sign")
    decapsulate = getattr(private, "decapsulate", None)
    try:
        ciphertext, secret = kem_backend(get_backend()).encapsulate(certificate.public_key_der)
    except ScepError as exc:
        raise CAConfigError(f"the {role} certificate's key cannot be used: {exc}") from None
    try:
        matches = decapsulate is not None and decapsulate(ciphertext) == secret
    except Exception:  # a key of another size, a token's refusal: no match either way
        matches = False
    if not matches:
        raise CAConfigError(f"the {role} key does not decapsulate for its certificate")
    return KeyPair(private, certificate)


def open_chain(chain_file: Path, ca: Certificate) -> tuple[Certificate, ...]:
    """The certificates of ``chain_file`` (PEM) above the intermediate CA ``ca``, in order
    from its issuer up: each CA certificate's key signed the one below (a name proves
    nothing). A certificate off that path, or one that is no CA, is refused."""
    if ca.self_signed:
        raise CAConfigError(f"{ca.subject!r} is a root (self-signed): it needs no --ca-chain")
    given = read_certificates(chain_file, "the CA chain")
    policy, backend = DEFAULT_POLICY, get_backend()
    chain: list[Certificate] = []
    current = ca
    remaining = [c for c in given if c != ca]
    while remaining and not current.self_signed:
        parent = next(
            (c for c in remaining if is_issued_by(current, c, backend=backend, algorithms=policy)),
            None,
        )
        if parent is None:
            break
        if not parent.is_ca:
            raise CAConfigError(f"the CA chain {chain_file}: {parent.subject!r} is no CA")
        chain.append(parent)
        remaining.remove(parent)
        current = parent
    if remaining or not chain:
        stray = remaining[0].subject if remaining else ca.issuer
        raise CAConfigError(
            f"the CA chain {chain_file}: {stray!r} is not on the path from {ca.subject!r}"
            " up to its root (each certificate must have signed the one below it)"
        )
    return tuple(chain)


def _load_or_create(
    directory: Path,
    stem: str,
    subject: str,
    issuer: KeyPair | None,
    now: datetime,
    *,
    ca: bool,
    key_type: str = "rsa2048",
) -> KeyPair:
    key_file, cert_file = directory / f"{stem}.key", directory / f"{stem}.pem"
    if key_type.startswith("ml-") and not (key_file.exists() and cert_file.exists()):
        _create_post_quantum(key_file, cert_file, subject, issuer, now, ca=ca, key_type=key_type)
    if not (key_file.exists() and cert_file.exists()):
        key = _key(key_type)
        signing = None
        if issuer is not None:
            issuer_key = serialization.load_pem_private_key(
                (directory / "ca.key").read_bytes(), None
            )
            assert isinstance(issuer_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
            signing = (issuer.certificate.to_cryptography().subject, issuer_key)
        certificate = _certificate(subject, key, issuer=signing, now=now, ca=ca)
        write_private(key_file, _pem_key(key))
        write_durably(cert_file, certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return KeyPair(
        load_private_key(key_file.read_bytes()), Certificate.load(cert_file.read_bytes())
    )


def _create_post_quantum(
    key_file: Path,
    cert_file: Path,
    subject: str,
    issuer: KeyPair | None,
    now: datetime,
    *,
    ca: bool,
    key_type: str,
) -> None:
    """An ML-DSA CA (self-signed) or an ML-KEM RA (issued by ``issuer``), its certificate
    made by pyscep: pyca/cryptography builds none with these keys."""
    key_pem = new_private_key(key_type)
    key = load_private_key(key_pem)
    name = f"O=pyscep serve,CN={subject}"
    if issuer is None:
        certificate = self_signed_certificate(key, name, now=now, days=3650, ca=ca)
    else:
        # An ML-KEM key signs no request: the CA vouches for the key it has just made.
        certificate = issue_certificate(
            issuer, KeyToCertify.of(key.public_key_der, name), now=now, days=730
        )
    write_private(key_file, key_pem)
    write_durably(cert_file, pem.armor("CERTIFICATE", certificate.der), mode=0o644)

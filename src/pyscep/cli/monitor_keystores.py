"""The keystore formats ``pyscep monitor`` renews: what is in one, and how a new one is staged.

A keystore reads as its key and certificate. Renewing one stages the new
files beside the old ones (``<name>.new``) and returns the *swap*: which new
file replaces which old one, and which staged file is discarded after. The
swap is what the state file records, so a run that stops half-way can finish
it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from pyscep.certificate import Certificate
from pyscep.crypto import PrivateKey, load_private_key

from .durable import write_durably
from .keys import key_type_of, new_private_key
from .monitor_config import KeystoreConfig, MonitorConfigError, passphrase

__all__ = ["Keystore", "Swap", "keystore_for", "new_key_for"]


@dataclass(frozen=True)
class Swap:
    """New files to move over old ones (target -> staged), then staged files to delete."""

    replace: dict[str, str]
    discard: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {"replace": self.replace, "discard": list(self.discard)}

    @classmethod
    def from_json(cls, value: object) -> Swap:
        if not isinstance(value, dict) or not isinstance(value.get("replace"), dict):
            raise MonitorConfigError("the state file's swap record is damaged")
        return cls(dict(value["replace"]), tuple(value.get("discard", ())))


def new_key_for(key_type: str | None, old: Certificate) -> bytes:
    """A new PEM private key: ``key_type``, or of the old key's kind and size."""
    return new_private_key(key_type or key_type_of(old))


def _pem(certificate: Certificate) -> bytes:
    return bytes(certificate.to_cryptography().public_bytes(serialization.Encoding.PEM))


class Keystore:
    """A PEM keystore: a key file and a certificate file."""

    def __init__(self, config: KeystoreConfig) -> None:
        assert config.key is not None
        assert config.certificate is not None
        self.config = config
        self.key_path, self.certificate_path = config.key, config.certificate
        #: Where the new key waits, 0600, from before the request is sent until the swap.
        self.new_key_path = _staged(self.key_path)

    @property
    def files(self) -> tuple[Path, ...]:
        """The files a renewal replaces (each is backed up first)."""
        return (self.key_path, self.certificate_path)

    def read(self) -> tuple[PrivateKey, Certificate]:
        """The current key and certificate."""
        return (
            load_private_key(self.key_path.read_bytes()),
            Certificate.load(self.certificate_path.read_bytes()),
        )

    def stage(self, certificate: Certificate, ca: Certificate) -> Swap:
        """Write the new certificate beside the old one; the swap that installs the pair."""
        staged = _staged(self.certificate_path)
        write_durably(staged, _pem(certificate), mode=0o644)
        return Swap(
            {str(self.key_path): str(self.new_key_path), str(self.certificate_path): str(staged)}
        )


class Pkcs12Keystore(Keystore):
    """A PKCS#12 file holding the key and certificate (and CA certificates), with a passphrase."""

    def __init__(self, config: KeystoreConfig) -> None:
        assert config.path is not None
        self.config = config
        self.path = config.path
        self.new_key_path = self.path.with_name(self.path.name + ".key.new")

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.path,)

    def _load(self) -> pkcs12.PKCS12KeyAndCertificates:
        try:
            loaded = pkcs12.load_pkcs12(self.path.read_bytes(), passphrase(self.config))
        except ValueError:
            raise MonitorConfigError(
                f"keystore {self.config.name!r}: the PKCS#12 does not open with its passphrase"
            ) from None
        if loaded.key is None or loaded.cert is None:
            raise MonitorConfigError(
                f"keystore {self.config.name!r}: the PKCS#12 lacks its key or certificate"
            )
        return loaded

    def read(self) -> tuple[PrivateKey, Certificate]:
        loaded = self._load()
        assert loaded.key is not None
        assert loaded.cert is not None
        return load_private_key(loaded.key), Certificate.load(loaded.cert.certificate)

    def stage(self, certificate: Certificate, ca: Certificate) -> Swap:
        old = self._load()
        assert old.cert is not None
        secret = passphrase(self.config)
        key = serialization.load_pem_private_key(self.new_key_path.read_bytes(), None)
        assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
        data = pkcs12.serialize_key_and_certificates(
            old.cert.friendly_name,
            key,
            certificate.to_cryptography(),
            # The CA certificates go along when the old file carried them.
            [ca.to_cryptography()] if old.additional_certs else None,
            serialization.BestAvailableEncryption(secret)
            if secret
            else serialization.NoEncryption(),
        )
        staged = _staged(self.path)
        write_durably(staged, data, mode=0o600)
        return Swap({str(self.path): str(staged)}, discard=(str(self.new_key_path),))


def _staged(path: Path) -> Path:
    return path.with_name(path.name + ".new")


def keystore_for(config: KeystoreConfig) -> Keystore:
    """The keystore ``config`` describes (pem or pkcs12; jks is not renewed here)."""
    if config.format == "pem":
        return Keystore(config)
    if config.format == "pkcs12":
        return Pkcs12Keystore(config)
    raise MonitorConfigError(
        f"keystore {config.name!r}: monitor run renews pem and pkcs12 keystores, not jks"
    )

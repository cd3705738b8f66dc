"""The keystore formats ``pyscep monitor`` renews: what is in one, and how a new one is staged.

A keystore reads as its key and certificate. Renewing one stages the new
files beside the old ones (``<name>.new``) and returns the *swap*: which new
file replaces which old one, and which staged file is discarded after. The
swap is what the state file records, so a run that stops half-way can finish
it; a recorded swap is followed only when it is the keystore's own (a state
file cannot make the monitor move other files). Every file is read and
written through its directory opened once (`durable.Directories`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from pyscep._appkit.durable import Directories
from pyscep._appkit.keys import key_type_of, new_private_key
from pyscep.certificate import Certificate
from pyscep.crypto import PrivateKey, load_private_key

from .config import KeystoreConfig, MonitorConfigError, passphrase

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
        discard = value.get("discard", ())
        if not isinstance(discard, (list, tuple)):
            raise MonitorConfigError("the state file's swap record is damaged")
        return cls(dict(value["replace"]), tuple(discard))


def new_key_for(key_type: str | None, old: Certificate) -> bytes:
    """A new PEM private key: ``key_type``, or of the old key's kind and size."""
    return new_private_key(key_type or key_type_of(old))


def _pem(certificate: Certificate) -> bytes:
    return bytes(certificate.to_cryptography().public_bytes(serialization.Encoding.PEM))


class Keystore:
    """A PEM keystore: a key file and a certificate file."""

    def __init__(self, config: KeystoreConfig, directories: Directories) -> None:
        assert config.key is not None
        assert config.certificate is not None
        self.config = config
        self.directories = directories
        self.key_path, self.certificate_path = config.key, config.certificate
        #: Where the new key waits, 0600, from before the request is sent until the swap.
        self.new_key_path = _staged(self.key_path)

    @property
    def files(self) -> tuple[Path, ...]:
        """The files a renewal replaces (each is backed up first)."""
        return (self.key_path, self.certificate_path)

    def swap(self) -> Swap:
        """The swap that installs this keystore's staged files."""
        return Swap({str(path): str(_staged(path)) for path in self.files})

    def load(self, path: Path, *, follow: bool = True) -> bytes:
        """The bytes of one of the keystore's files (``follow=False``: never through a link)."""
        directory, name = self.directories.of(path)
        return directory.read(name, follow=follow)

    def write(self, path: Path, data: bytes, *, mode: int) -> None:
        """Write one of the keystore's files (or a staged one) whole, never through a link."""
        directory, name = self.directories.of(path)
        directory.write(name, data, mode=mode)

    def read(self) -> tuple[PrivateKey, Certificate]:
        """The current key and certificate."""
        return (
            load_private_key(self.load(self.key_path)),
            Certificate.load(self.load(self.certificate_path)),
        )

    def stage(self, certificate: Certificate, ca: Certificate) -> Swap:
        """Write the new certificate beside the old one; the swap that installs the pair."""
        self.write(_staged(self.certificate_path), _pem(certificate), mode=0o644)
        return self.swap()


class Pkcs12Keystore(Keystore):
    """A PKCS#12 file holding the key and certificate (and CA certificates), with a passphrase."""

    def __init__(self, config: KeystoreConfig, directories: Directories) -> None:
        assert config.path is not None
        self.config = config
        self.directories = directories
        self.path = config.path
        self.new_key_path = self.path.with_name(self.path.name + ".key.new")

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.path,)

    def swap(self) -> Swap:
        return Swap({str(self.path): str(_staged(self.path))}, discard=(str(self.new_key_path),))

    def _load(self) -> pkcs12.PKCS12KeyAndCertificates:
        try:
            loaded = pkcs12.load_pkcs12(self.load(self.path), passphrase(self.config))
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
        key = serialization.load_pem_private_key(self.load(self.new_key_path, follow=False), None)
        # The kinds of keys.new_private_key makes, which PKCS#12 can all hold.
        if not isinstance(
            key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)
        ):
            raise MonitorConfigError(
                f"keystore {self.config.name!r}: a PKCS#12 file cannot hold a {type(key).__name__}"
            )
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
        self.write(_staged(self.path), data, mode=0o600)
        return self.swap()


def _staged(path: Path) -> Path:
    return path.with_name(path.name + ".new")


def keystore_for(config: KeystoreConfig, directories: Directories) -> Keystore:
    """The keystore ``config`` describes (pem or pkcs12; jks is not renewed here)."""
    if config.format == "pem":
        return Keystore(config, directories)
    if config.format == "pkcs12":
        return Pkcs12Keystore(config, directories)
    raise MonitorConfigError(
        f"keystore {config.name!r}: monitor run renews pem and pkcs12 keystores, not jks"
    )

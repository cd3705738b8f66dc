"""What the evaluator decides about: a request view and the certificate inventory."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pyscep.certificate import Certificate
from pyscep.enums import MessageType
from pyscep.errors import PolicyConfigError
from pyscep.policy.identity import DistinguishedName
from pyscep.public_key import PublicKey

__all__ = [
    "CertificateStatus",
    "InMemoryInventory",
    "Inventory",
    "InventoryRecord",
    "PublicKeyView",
    "RequestView",
    "inventory_from_json",
]


@dataclass(frozen=True)
class PublicKeyView:
    """A public key: its DER SubjectPublicKeyInfo, algorithm (``RSA``/``EC``) and size."""

    der: bytes
    algorithm: str
    bits: int

    @classmethod
    def from_der(cls, der: bytes) -> PublicKeyView:
        """From DER SubjectPublicKeyInfo (an id-RSASSA-PSS key is an RSA key)."""
        key = PublicKey.load(der)
        return cls(der, key.family.upper(), key.bits)


@dataclass(frozen=True)
class RequestView:
    """What the policy needs to know about one request (built by the application).

    ``challenge_ok`` is the application's verdict on the challengePassword:
    None when the request carried none, True when it checked out, False when
    it was wrong. ``signature_verified`` says whether the pkiMessage signature
    verified with ``signer``.
    """

    message_type: MessageType
    subject: DistinguishedName
    public_key: PublicKeyView
    signer: Certificate
    signature_verified: bool
    challenge_ok: bool | None = None
    subject_alt_names: tuple[str, ...] = ()
    #: Extended key usages requested (dotted OIDs or asn1crypto names), None if none asked.
    extended_key_usages: frozenset[str] | None = None
    transaction_id: str | None = None


class CertificateStatus(str, enum.Enum):
    """Status of a certificate in the application's inventory."""

    VALID = "valid"
    REVOKED = "revoked"


@dataclass(frozen=True)
class InventoryRecord:
    """One certificate the CA issued, as the application's database knows it."""

    certificate: Certificate
    status: CertificateStatus
    role: str = ""
    ra: str = ""
    #: The request that created it (e.g. its transactionID).
    request_id: str | None = None


class Inventory(Protocol):
    """The application's certificates, looked up by identity."""

    def find(self, identity: DistinguishedName, rdns: Sequence[str]) -> Sequence[InventoryRecord]:
        """Records whose subject matches ``identity`` on ``rdns``."""
        ...

    def lookup(self, certificate: Certificate) -> InventoryRecord | None:
        """The record of exactly this certificate, if the CA issued it."""
        ...


@dataclass(frozen=True)
class InMemoryInventory:
    """An Inventory over a list of records (tests, tools, small deployments)."""

    records: tuple[InventoryRecord, ...] = field(default=())

    def find(self, identity: DistinguishedName, rdns: Sequence[str]) -> Sequence[InventoryRecord]:
        """Records whose subject matches on ``rdns``."""
        return [
            r
            for r in self.records
            if DistinguishedName.from_certificate(r.certificate).matches(identity, rdns)
        ]

    def lookup(self, certificate: Certificate) -> InventoryRecord | None:
        """The record of this certificate."""
        return next((r for r in self.records if r.certificate == certificate), None)


def inventory_from_json(text: str, read_file: Callable[[str], bytes]) -> InMemoryInventory:
    """An inventory from the JSON array documented in docs/policy.md.

    Each object: ``certificate`` (a PEM or DER file name, passed to
    ``read_file``), ``status`` (``valid`` or ``revoked``), optional ``role``,
    ``ra`` and ``request_id``; other keys are ignored.
    """
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise PolicyConfigError(f"inventory is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise PolicyConfigError("inventory must be a JSON array")
    records = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "certificate" not in item or "status" not in item:
            raise PolicyConfigError(f"inventory[{index}] needs 'certificate' and 'status'")
        try:
            status = CertificateStatus(item["status"])
        except ValueError:
            raise PolicyConfigError(
                f"inventory[{index}]: status must be 'valid' or 'revoked'"
            ) from None
        records.append(
            InventoryRecord(
                certificate=Certificate.load(read_file(str(item["certificate"]))),
                status=status,
                role=str(item.get("role", "")),
                ra=str(item.get("ra", "")),
                request_id=item.get("request_id"),
            )
        )
    return InMemoryInventory(tuple(records))

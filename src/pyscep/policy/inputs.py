"""What the evaluator decides about: a request view and the certificate inventory."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from pyscep.certificate import Certificate
from pyscep.enums import MessageType
from pyscep.errors import PolicyConfigError, ScepError
from pyscep.policy.identity import DistinguishedName
from pyscep.public_key import PublicKey
from pyscep.sid import VouchedSid

__all__ = [
    "CertificateStatus",
    "ChallengeOutcome",
    "ChallengeVerdict",
    "InMemoryInventory",
    "Inventory",
    "InventoryRecord",
    "PublicKeyView",
    "RequestView",
    "SignerView",
    "inventory_from_json",
]


@dataclass(frozen=True)
class PublicKeyView:
    """A public key: its DER SubjectPublicKeyInfo, algorithm (``RSA``/``EC``, or an ML-DSA
    parameter set: ``ML-DSA-65``) and size (an ML-DSA key's: its security strength).

    Algorithm and size are read from ``der`` (they cannot be given or replaced).
    """

    der: bytes
    algorithm: str = field(init=False)
    bits: int = field(init=False)

    def __post_init__(self) -> None:
        self._describe(PublicKey.load(self.der))

    def _describe(self, key: PublicKey) -> None:
        # An id-RSASSA-PSS key is an RSA key.
        name = key.parameter_set.title if key.parameter_set is not None else key.family.upper()
        object.__setattr__(self, "algorithm", name)
        object.__setattr__(self, "bits", key.bits)

    @classmethod
    def from_der(cls, der: bytes) -> PublicKeyView:
        """From DER SubjectPublicKeyInfo; ParseError when it is not one."""
        return cls(der)

    @classmethod
    def of(cls, key: PublicKey) -> PublicKeyView:
        """From a key already read (`Certificate.public_key`,
        `CertificationRequest.public_key`), without reading its DER again."""
        view = cls.__new__(cls)
        object.__setattr__(view, "der", key.der)
        view._describe(key)
        return view


class ChallengeOutcome(str, enum.Enum):
    """What checking a request's challengePassword found."""

    #: It checked out: the request is authorized by it.
    ACCEPTED = "accepted"
    #: One was presented and refused (wrong, used, expired, someone else's).
    REFUSED = "refused"
    #: None was presented, or nothing could check it.
    ABSENT = "absent"


@dataclass(frozen=True)
class ChallengeVerdict:
    """The verdict on a challengePassword, and why (what a failInfoText or trace says).

    Read it with ``verdict.accepted`` (true only for `ChallengeOutcome.ACCEPTED`)
    or by its ``outcome``. It has no truth value: ``if verdict:`` raises
    TypeError, because "a verdict was given" is not "the challenge checked out".
    """

    outcome: ChallengeOutcome
    reason: str
    #: The Windows account SID the checker vouches for (a one-time challenge bound to
    #: it, Intune's validation...): the only SID the certificate may carry. Only an
    #: accepted verdict has one.
    sid: VouchedSid | None = None

    def __post_init__(self) -> None:
        if self.sid is not None and self.outcome is not ChallengeOutcome.ACCEPTED:
            raise ValueError("only an accepted challenge vouches for a SID")

    @classmethod
    def accept(cls, reason: str, *, sid: VouchedSid | None = None) -> ChallengeVerdict:
        """The challenge checked out (and vouches for ``sid``, when given)."""
        return cls(ChallengeOutcome.ACCEPTED, reason, sid)

    @classmethod
    def refuse(cls, reason: str) -> ChallengeVerdict:
        """A challenge was presented and is not good."""
        return cls(ChallengeOutcome.REFUSED, reason)

    @classmethod
    def absent(cls, reason: str = "no challenge password") -> ChallengeVerdict:
        """No challenge to judge."""
        return cls(ChallengeOutcome.ABSENT, reason)

    @property
    def accepted(self) -> bool:
        """True only when the challenge checked out."""
        return self.outcome is ChallengeOutcome.ACCEPTED

    def __bool__(self) -> bool:
        raise TypeError("a ChallengeVerdict has no truth value: read .accepted or .outcome")


@dataclass(frozen=True)
class RequestView:
    """What the policy needs to know about one request (built by the application).

    ``challenge`` is the application's verdict on the challengePassword (absent
    by default). ``signature_verified`` says whether the pkiMessage signature
    verified with ``signer``.
    """

    message_type: MessageType
    subject: DistinguishedName
    public_key: PublicKeyView
    signer: Certificate
    signature_verified: bool
    challenge: ChallengeVerdict = field(default_factory=ChallengeVerdict.absent)
    subject_alt_names: tuple[str, ...] = ()
    #: Extended key usages requested (dotted OIDs or asn1crypto names), None if none asked.
    extended_key_usages: frozenset[str] | None = None
    transaction_id: str | None = None
    #: Microsoft ValidityPeriod/ValidityPeriodUnits, when the CSR asks for a lifetime.
    requested_validity: timedelta | None = None
    #: Microsoft certificate-template name, when the CSR names one.
    certificate_template: str | None = None
    #: Windows account SIDs the CSR asks for (`pyscep.sid`): never copied; only the
    #: challenge verdict's ``sid`` reaches a certificate.
    requested_sids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignerView:
    """What is known of a request before its envelope is opened: type and signer."""

    message_type: MessageType
    signer: Certificate
    signature_verified: bool
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


#: Longest inventory JSON read (about 50,000 records).
MAX_INVENTORY_TEXT = 16 * 1024 * 1024


def inventory_from_json(text: str, read_file: Callable[[str], bytes]) -> InMemoryInventory:
    """An inventory from the JSON array documented in docs/policy.md.

    Each object: ``certificate`` (a PEM or DER file name, passed to
    ``read_file``), ``status`` (``valid`` or ``revoked``), optional ``role``,
    ``ra`` and ``request_id``; other keys are ignored.
    """
    if len(text) > MAX_INVENTORY_TEXT:
        raise PolicyConfigError(f"inventory longer than {MAX_INVENTORY_TEXT} characters")
    try:
        items = json.loads(text)
    except RecursionError:
        raise PolicyConfigError("inventory is nested too deeply") from None
    except ValueError as exc:
        # JSONDecodeError says where; other ValueErrors (a 5000-digit number) say what.
        raise PolicyConfigError(f"inventory is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise PolicyConfigError("inventory must be a JSON array")
    records = []
    for index, item in enumerate(items):
        where = f"inventory[{index}]"
        if not isinstance(item, dict) or "certificate" not in item or "status" not in item:
            raise PolicyConfigError(f"{where} needs 'certificate' and 'status'")
        try:
            status = CertificateStatus(item["status"])
        except (ValueError, TypeError):
            raise PolicyConfigError(f"{where}: status must be 'valid' or 'revoked'") from None
        file_name, role, ra = (item["certificate"], item.get("role", ""), item.get("ra", ""))
        request_id = item.get("request_id")
        if not all(isinstance(v, str) for v in (file_name, role, ra)) or not isinstance(
            request_id, (str, type(None))
        ):
            raise PolicyConfigError(f"{where}: certificate, role, ra and request_id are strings")
        try:
            certificate = Certificate.load(read_file(file_name))
        except ScepError as exc:
            raise PolicyConfigError(f"{where}: certificate {file_name!r}: {exc}") from None
        records.append(InventoryRecord(certificate, status, role, ra, request_id))
    return InMemoryInventory(tuple(records))

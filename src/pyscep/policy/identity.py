"""Distinguished names as the policy compares them: ordered (type, value) pairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import x509

from pyscep._boundary import field
from pyscep.certificate import Certificate

__all__ = ["DistinguishedName"]

# Short names for the attribute types asn1crypto knows; others keep their dotted OID.
_SHORT = {
    "common_name": "CN",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "country_name": "C",
    "state_or_province_name": "ST",
    "locality_name": "L",
    "email_address": "E",
    "serial_number": "SERIALNUMBER",
    "domain_component": "DC",
    "user_id": "UID",
    "given_name": "GN",
    "surname": "SN",
    "title": "T",
}


@dataclass(frozen=True)
class DistinguishedName:
    """A DN as (short type, value) pairs, in encoding order (least specific first)."""

    rdns: tuple[tuple[str, str], ...]

    @classmethod
    def from_der(cls, der: bytes) -> DistinguishedName:
        """From a DER Name."""
        with field("Name"):
            name = x509.Name.load(der, strict=True)
            pairs = []
            for rdn in name.chosen:
                for attribute in rdn:
                    kind = attribute["type"].native
                    value = attribute["value"].native
                    pairs.append((_SHORT.get(kind, attribute["type"].dotted), str(value)))
        return cls(tuple(pairs))

    @classmethod
    def from_certificate(cls, certificate: Certificate) -> DistinguishedName:
        """The subject of a certificate."""
        return cls.from_der(certificate.subject_der)

    @classmethod
    def parse(cls, text: str) -> DistinguishedName:
        """From ``"CN=a, O=b, C=DE"`` (given most specific first, as RFC 4514 writes it)."""
        pairs = []
        for part in text.split(","):
            kind, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"not a DN component: {part!r}")
            pairs.append((kind.strip().upper(), value.strip()))
        return cls(tuple(reversed(pairs)))

    def values(self, kind: str) -> tuple[str, ...]:
        """Every value of one attribute type."""
        return tuple(value for k, value in self.rdns if k == kind.upper())

    def matches(self, other: DistinguishedName, on: Sequence[str] | None = None) -> bool:
        """Equal on the RDN types ``on`` (case-insensitively per value), or exactly equal."""
        if on is None:
            return self.rdns == other.rdns
        for kind in on:
            mine, theirs = self.values(kind), other.values(kind)
            # An RDN the identity is matched on must be present.
            if not mine or [v.casefold() for v in mine] != [v.casefold() for v in theirs]:
                return False
        return True

    def __str__(self) -> str:
        return ", ".join(f"{kind}={value}" for kind, value in reversed(self.rdns))

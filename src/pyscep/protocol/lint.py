"""A preflight of a CA/RA setup against what each platform's SCEP client requires.

`lint_setup` reads what a server would hand its clients (the CA certificate, any RA
certificates, the chain above an intermediate, the GetCACaps answer, the interop
profile's CertRep spelling) and says, per platform, what would fail and why, and
what only some versions of it mind. Each platform's needs are data
(`PLATFORMS`), from the field notes in ../shared/interop-notes.md:

- Windows and Intune, Apple, Android and Cisco IOS enroll RSA keys only and envelope
  their requests to an RSA certificate: an EC CA needs an RSA RA for them;
- Apple wants RA certificates with one key usage each (NDES's shape);
- old Cisco IOS images sign with SHA-1 and encrypt with 3DES only, over GET;
- sscep cannot verify a CertRep whose eContent is absent, and its OpenSSL 3 no
  longer does single DES: it needs AES or 3DES advertised;
- micromdm's scepclient picks the encryption certificate by a flag when GetCACert
  holds more than one;
- strongSwan believes AES only when SHA-384 is advertised.

Checks every platform shares come first (a CA valid now and a while yet, RA
certificates the CA signed, key sizes, SHA-1 signatures, the chain), and Windows'
nesting of purposes: a CA whose extendedKeyUsage leaves out client authentication
makes every certificate below it useless to Windows. Time is a parameter; nothing
here does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import algos

from pyscep.algorithms import DEFAULT_POLICY
from pyscep.certificate import Certificate
from pyscep.crypto import get_backend
from pyscep.crypto.signed_object import is_issued_by
from pyscep.errors import ScepError
from pyscep.messages import CACaps
from pyscep.messages.ca import may_encrypt

from .profiles import InteropProfile

__all__ = [
    "PLATFORMS",
    "LintFinding",
    "LintReport",
    "Platform",
    "Severity",
    "lint_setup",
]

#: A CA that expires sooner than this is reported (devices renew ahead of expiry).
EXPIRY_WARNING = timedelta(days=30)
#: The extendedKeyUsage purposes under which a device's client certificate is valid.
_CLIENT_PURPOSES = frozenset({"client_auth", "any_extended_key_usage"})


class Severity(str, enum.Enum):
    """How bad a finding is for the platform."""

    #: Enrollment fails.
    FAIL = "fail"
    #: Some versions fail, or it works in a way worth knowing.
    WARN = "warn"


@dataclass(frozen=True)
class Platform:
    """What one platform's SCEP client needs of a server, as data."""

    name: str
    label: str
    #: Requests are enveloped to an RSA certificate only (key transport).
    rsa_encryption: bool = True
    #: RA certificates one key usage each (signing, encryption), as NDES has them.
    single_usage_ras: bool = False
    #: Advertised digests and ciphers some versions need (a warning when none is).
    wants_digests: frozenset[str] = frozenset()
    wants_ciphers: frozenset[str] = frozenset()
    #: Needs one of these ciphers advertised, or enrollment fails.
    needs_ciphers: frozenset[str] = frozenset()
    #: Cannot verify a CertRep whose eContent is absent.
    needs_econtent: bool = False
    #: Needs to be told which certificate to encrypt to when GetCACert holds several.
    selector_for_several: bool = False
    #: Believes AES only when SHA-384 is advertised too.
    aes_needs_sha384: bool = False


#: The platforms `lint_setup` checks, by name.
PLATFORMS: dict[str, Platform] = {
    p.name: p
    for p in (
        Platform("windows", "Windows and Intune"),
        Platform("apple", "Apple (iOS, macOS)", single_usage_ras=True),
        Platform("android", "Android (through an MDM)"),
        Platform(
            "cisco-ios",
            "Cisco IOS",
            wants_digests=frozenset({"SHA-1"}),
            wants_ciphers=frozenset({"DES3"}),
        ),
        Platform("sscep", "sscep", needs_ciphers=frozenset({"AES", "DES3"}), needs_econtent=True),
        Platform("micromdm", "micromdm's scepclient", selector_for_several=True),
        Platform(
            "strongswan", "strongSwan pki --scep", rsa_encryption=False, aes_needs_sha384=True
        ),
    )
}


@dataclass(frozen=True)
class LintFinding:
    """One thing a platform would trip on: which, how bad, the check, and why."""

    platform: str
    severity: Severity
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.platform}: {self.severity.value}: {self.check}: {self.detail}"


@dataclass(frozen=True)
class LintReport:
    """Every finding, and the platforms checked."""

    findings: tuple[LintFinding, ...]
    platforms: tuple[str, ...]

    def failures(self) -> tuple[LintFinding, ...]:
        """The findings that make enrollment fail."""
        return tuple(f for f in self.findings if f.severity is Severity.FAIL)

    def for_platform(self, name: str) -> tuple[LintFinding, ...]:
        """The findings of one platform (those every platform shares included)."""
        return tuple(f for f in self.findings if f.platform in (name, "all"))

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly: per platform, ``ok`` or its findings."""
        return {
            name: [
                {"severity": f.severity.value, "check": f.check, "detail": f.detail}
                for f in self.for_platform(name)
            ]
            for name in self.platforms
        }


def lint_setup(
    ca: Certificate,
    ra_certificates: Sequence[Certificate] = (),
    *,
    caps: CACaps,
    profile: InteropProfile,
    now: datetime,
    chain: Sequence[Certificate] = (),
    platforms: Iterable[str] | None = None,
) -> LintReport:
    """What each platform (all of `PLATFORMS` by default) would trip on, enrolling with
    a server that hands out ``ca`` and ``ra_certificates`` (and ``chain``), answers
    GetCACaps with ``caps`` and spells CertReps as ``profile`` says."""
    chosen = tuple(PLATFORMS) if platforms is None else tuple(platforms)
    unknown = [name for name in chosen if name not in PLATFORMS]
    if unknown:
        raise ValueError(f"unknown platform {unknown[0]!r}: {', '.join(PLATFORMS)}")
    shared = _shared(ca, ra_certificates, chain, caps, now)
    findings = [f for f in shared if f.platform in ("all", *chosen)]
    encryption = _encryption_certificates(ca, ra_certificates)
    for name in chosen:
        findings.extend(_platform(PLATFORMS[name], encryption, ra_certificates, caps, profile))
    return LintReport(tuple(findings), chosen)


def _finding(platform: str, severity: Severity, check: str, detail: str) -> LintFinding:
    return LintFinding(platform, severity, check, detail)


def _shared(
    ca: Certificate,
    ras: Sequence[Certificate],
    chain: Sequence[Certificate],
    caps: CACaps,
    now: datetime,
) -> Iterable[LintFinding]:
    fail, warn = Severity.FAIL, Severity.WARN
    if not ca.not_valid_before <= now <= ca.not_valid_after:
        yield _finding("all", fail, "ca-validity", f"the CA {ca.subject!r} is not valid now")
    elif ca.not_valid_after - now < EXPIRY_WARNING:
        yield _finding(
            "all", warn, "ca-validity", f"the CA expires on {ca.not_valid_after:%Y-%m-%d}"
        )
    if ca.key_usage is not None and "key_cert_sign" not in ca.key_usage:
        yield _finding("all", fail, "ca-key-usage", "the CA's keyUsage lacks keyCertSign")
    backend = get_backend()
    for ra in ras:
        try:
            signed = is_issued_by(ra, ca, backend=backend, algorithms=DEFAULT_POLICY)
        except ScepError:
            signed = False
        if not signed:
            yield _finding(
                "all", fail, "ra-issuer", f"the RA {ra.subject!r} is not signed by the CA's key"
            )
        if not ra.not_valid_before <= now <= ra.not_valid_after:
            yield _finding("all", fail, "ra-validity", f"the RA {ra.subject!r} is not valid now")
    for certificate in (ca, *ras):
        if certificate.public_key_algorithm == "rsa" and certificate.public_key_bits < 2048:
            yield _finding(
                "all",
                warn,
                "key-size",
                f"{certificate.subject!r} has an RSA-{certificate.public_key_bits} key",
            )
        if _signature_digest(certificate) in ("sha1", "md5"):
            yield _finding(
                "all",
                warn,
                "signature",
                f"{certificate.subject!r} is signed with {_signature_digest(certificate)}",
            )
    for certificate in (ca, *chain):
        purposes = certificate.extended_key_usages
        if purposes is not None and not purposes & _CLIENT_PURPOSES:
            # Windows (CryptoAPI) nests purposes: a CA's extendedKeyUsage limits every
            # certificate below it, and the devices' certificates are for client auth.
            yield _finding(
                "windows",
                fail,
                "ca-extended-key-usage",
                f"{certificate.subject!r} limits its extendedKeyUsage to"
                f" {', '.join(sorted(purposes))}: Windows refuses client authentication"
                " with any certificate below it",
            )
    if not ca.self_signed and not chain:
        yield _finding(
            "all",
            warn,
            "chain",
            "the CA is an intermediate and GetCACert sends no chain: clients that trust"
            " what GetCACert gives cannot reach a root",
        )
    if not caps.keywords:
        yield _finding(
            "all", warn, "caps", "GetCACaps advertises nothing: clients fall back to DES and MD5"
        )


def _signature_digest(certificate: Certificate) -> str:
    """The digest the certificate's signature uses, by asn1crypto's name ("" when the
    algorithm names none or is one nobody here knows: nothing to warn of then)."""
    try:
        algorithm = algos.SignedDigestAlgorithm.load(certificate.signature_algorithm_der)
        return str(algorithm.hash_algo)
    except (ValueError, KeyError, TypeError):
        return ""


def _encryption_certificates(ca: Certificate, ras: Sequence[Certificate]) -> list[Certificate]:
    """Where clients envelope requests: the RAs that may (as pyscep's own client chooses,
    `pyscep.messages.ca.may_encrypt`), else a CA alone whose key can be enveloped to."""
    if ras:
        return [ra for ra in ras if may_encrypt(ra)]
    # A CA alone encrypts and signs whatever its keyUsage says (as clients take it).
    return [ca] if ca.public_key_algorithm in ("rsa", "ec") else []


def _platform(
    platform: Platform,
    encryption: list[Certificate],
    ras: Sequence[Certificate],
    caps: CACaps,
    profile: InteropProfile,
) -> Iterable[LintFinding]:
    name, fail, warn = platform.name, Severity.FAIL, Severity.WARN
    advertised = set(caps.keywords)
    if not encryption:
        yield _finding(name, fail, "encryption", "no certificate of GetCACert may encipher keys")
    elif platform.rsa_encryption and not any(c.public_key_algorithm == "rsa" for c in encryption):
        key = encryption[0].public_key
        kind = key.parameter_set.title if key.parameter_set else key.algorithm.upper()
        yield _finding(
            name,
            fail,
            "encryption",
            f"requests are enveloped to an RSA certificate only, and this one is {kind}:"
            " give the CA an RSA RA",
        )
    if platform.single_usage_ras:
        for ra in ras:
            usage = ra.key_usage or frozenset()
            if {"digital_signature", "key_encipherment"} <= usage or ra.key_usage is None:
                yield _finding(
                    name,
                    warn,
                    "ra-key-usage",
                    f"the RA {ra.subject!r} both signs and enciphers: some versions want two"
                    " RA certificates with one key usage each",
                )
    if platform.wants_digests and not advertised & platform.wants_digests:
        yield _finding(
            name,
            warn,
            "digest",
            f"old versions sign with {' or '.join(sorted(platform.wants_digests))} only,"
            " which GetCACaps does not advertise",
        )
    if platform.wants_ciphers and not advertised & platform.wants_ciphers:
        yield _finding(
            name,
            warn,
            "cipher",
            f"old versions encrypt with {' or '.join(sorted(platform.wants_ciphers))} only,"
            " which GetCACaps does not advertise",
        )
    if (
        platform.needs_ciphers
        and not advertised & platform.needs_ciphers
        and "SCEPStandard" not in advertised
    ):
        yield _finding(
            name,
            fail,
            "cipher",
            f"needs {' or '.join(sorted(platform.needs_ciphers))} advertised (single DES is"
            " gone from OpenSSL 3)",
        )
    if platform.needs_econtent and not profile.empty_econtent:
        yield _finding(
            name,
            fail,
            "cert-rep",
            f"cannot verify a PENDING or FAILURE CertRep without eContent (profile"
            f" {profile.name!r} leaves it out)",
        )
    if platform.selector_for_several and len(ras) > 1:
        yield _finding(
            name,
            warn,
            "ra-selection",
            "GetCACert holds several RA certificates: run scepclient with"
            " -key-encipherment-selector",
        )
    if platform.aes_needs_sha384 and "AES" in advertised and "SHA-384" not in advertised:
        yield _finding(
            name,
            warn,
            "caps",
            "AES is advertised without SHA-384: strongSwan then falls back to 3DES",
        )

"""Policy configuration: an immutable value, and a loader for OpenCA-style scep.conf.

scep.conf holds ``Key "VALUE"`` lines and ``#`` comments. OpenCA's keys keep
their meaning; the keys after them extend it (defaults in brackets):

=============================  ====================================================
ScepAllowEnrollment            YES / NO (only DNs we already have) / VALIDSIGNATURE
                               (only requests signed by a certificate of ours) [YES]
ScepAllowRenewal               YES / NO [YES]
ScepAutoApprove                YES: authenticated renewals are issued at once [NO]
ScepKeepSubjectAltName         YES: keep the SANs of the request [NO]
ScepDefaultRole                role of new enrollments [""]
ScepDefaultRA                  RA of new enrollments [""]
ScepRenewalRDNMatch            RDNs identifying "the same identity" ["CN"]
ScepAutoApproveEnrollment      YES: initial enrollments with a valid challenge are
                               issued at once, not left PENDING [NO]
ScepRenewalWindowDays          renewal allowed only this close to expiry; empty =
                               any time [""]
ScepOutsideWindow              REJECT or PENDING for renewals outside the window [REJECT]
ScepExpiredSignerGraceDays     how long after expiry a signer may still renew [0]
ScepMaxValidCertificates       most valid certificates per identity [2]
ScepRequireChallenge           initial enrollment needs the challenge [YES]
ScepWaiveChallengeOnRenewal    an authenticated renewal needs no challenge [YES]
ScepOnBehalfEnrollers          signer subject patterns that may enroll for others:
                               RFC 4514 DNs, most specific RDN first, ``*``/``?``
                               wildcards within a value, ";"-separated; matched
                               RDN by RDN, never as text [""]
ScepTrustedRA                  SHA-256 fingerprints (hex, ";"-separated) of RA
                               certificates (an EST-to-SCEP bridge, a proxy that
                               authenticated the device) whose requests are
                               authorized by the RA itself [""]
ScepHonourRequestedValidity    YES: a CSR's Microsoft ValidityPeriod sets the
                               lifetime (capped by ScepMaximumValidityDays) [NO]
ScepMaximumValidityDays        longest lifetime a request may ask for [365]
ScepRoleFromTemplate           YES: a CSR's certificate-template name is the role
                               of a new enrollment [NO]
ScepMinimumRSABits             smallest RSA key [2048]
ScepMinimumECBits              smallest EC key [256]
ScepAllowedKeyAlgorithms       key algorithms accepted ["RSA,EC"]
ScepRequireNewKey              a renewal must bring a new key [YES]
ScepRequestedSid               STRIP or REFUSE a request asking for a Windows
                               account SID nobody vouches for; never copied [STRIP]
=============================  ====================================================
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from pyscep.errors import PolicyConfigError
from pyscep.policy.identity import NamePattern

__all__ = ["EnrollmentMode", "OutsideWindow", "PolicyConfig", "parse_scep_conf"]


class EnrollmentMode(str, enum.Enum):
    """ScepAllowEnrollment."""

    YES = "YES"
    NO = "NO"
    VALIDSIGNATURE = "VALIDSIGNATURE"


class OutsideWindow(str, enum.Enum):
    """What happens to a renewal requested too early."""

    REJECT = "REJECT"
    PENDING = "PENDING"


class RequestedSid(str, enum.Enum):
    """What to do with a Windows account SID a request asks for (`pyscep.sid`) that no
    trusted source vouches for. It is never copied into a certificate either way."""

    #: Issue without it, and say so in the trace (the default).
    STRIP = "STRIP"
    #: Refuse the request (badRequest).
    REFUSE = "REFUSE"


@dataclass(frozen=True)
class PolicyConfig:
    """Everything the evaluator needs to decide; immutable, with safe defaults."""

    allow_enrollment: EnrollmentMode = EnrollmentMode.YES
    allow_renewal: bool = True
    auto_approve: bool = False
    keep_subject_alt_name: bool = False
    default_role: str = ""
    default_ra: str = ""
    renewal_rdn_match: tuple[str, ...] = ("CN",)
    auto_approve_enrollment: bool = False
    renewal_window: timedelta | None = None
    outside_window: OutsideWindow = OutsideWindow.REJECT
    expired_signer_grace: timedelta = timedelta(0)
    max_valid_certificates: int = 2
    require_challenge: bool = True
    waive_challenge_on_renewal: bool = True
    on_behalf_enrollers: tuple[str, ...] = ()
    #: SHA-256 fingerprints (lower-case hex) of trusted RA certificates.
    trusted_ras: frozenset[str] = frozenset()
    honour_requested_validity: bool = False
    maximum_validity: timedelta = timedelta(days=365)
    role_from_template: bool = False
    minimum_rsa_bits: int = 2048
    minimum_ec_bits: int = 256
    allowed_key_algorithms: frozenset[str] = frozenset({"RSA", "EC"})
    require_new_key: bool = True
    #: ScepRequestedSid: a requested SID nobody vouches for is stripped or refused.
    requested_sid: RequestedSid = RequestedSid.STRIP

    def __post_init__(self) -> None:
        for pattern in self.on_behalf_enrollers:
            NamePattern.parse(pattern)  # PolicyConfigError for one that is not a DN pattern
        if self.max_valid_certificates < 1:
            raise PolicyConfigError("max_valid_certificates must be at least 1")
        if not self.renewal_rdn_match:
            raise PolicyConfigError("renewal_rdn_match names at least one RDN")


_LINE = re.compile(r'^\s*(?P<key>[A-Za-z][A-Za-z0-9]*)\s+"(?P<value>[^"]*)"\s*(?:#.*)?$')


def _yes_no(value: str) -> bool:
    upper = value.strip().upper()
    if upper not in ("YES", "NO"):
        raise ValueError('expected "YES" or "NO"')
    return upper == "YES"


#: Numbers as scep.conf writes them: digits, and for days an optional fraction
#: (no exponents, no "inf"/"nan", no signs, no "_" separators).
_DAYS = re.compile(r"\s*([0-9]{1,6})(\.[0-9]{1,6})?\s*\Z")
_WHOLE = re.compile(r"\s*([0-9]{1,9})\s*\Z")
#: Longest period scep.conf can set (100 years: anything longer is a typo).
_MAX_DAYS = 36_525


def _days(value: str) -> timedelta:
    match = _DAYS.match(value)
    if match is None:
        raise ValueError("expected a number of days such as 30 or 0.5")
    number = float(match[0])
    if number > _MAX_DAYS:
        raise ValueError(f"at most {_MAX_DAYS} days")
    return timedelta(days=number)


def _positive_int(value: str) -> int:
    match = _WHOLE.match(value)
    if match is None or int(match[1]) < 1:
        raise ValueError("must be a positive whole number (at most 9 digits)")
    return int(match[1])


def _rdns(value: str) -> tuple[str, ...]:
    names = tuple(part.strip().upper() for part in value.split(","))
    if not all(re.fullmatch(r"[A-Z][A-Z0-9]*", n) for n in names):
        raise ValueError('expected RDN names such as "CN,O,C"')
    return names


#: The key algorithms a policy may allow (post-quantum keys by parameter set, opt-in).
KEY_ALGORITHMS = frozenset({"RSA", "EC", "ML-DSA-44", "ML-DSA-65", "ML-DSA-87"})


def _algorithms(value: str) -> frozenset[str]:
    names = frozenset(part.strip().upper() for part in value.split(",") if part.strip())
    if not names or not names <= KEY_ALGORITHMS:
        raise ValueError(f"expected a list of {', '.join(sorted(KEY_ALGORITHMS))}")
    return names


def _patterns(value: str) -> tuple[str, ...]:
    # ";" separates patterns; "\;" inside one is an escaped character of a value.
    patterns = tuple(p.strip() for p in re.split(r"(?<!\\);", value) if p.strip())
    for pattern in patterns:
        try:
            NamePattern.parse(pattern)
        except PolicyConfigError as exc:
            raise ValueError(exc.message) from None
    return patterns


def _fingerprints(value: str) -> frozenset[str]:
    found = frozenset(p.strip().replace(":", "").lower() for p in value.split(";") if p.strip())
    if not all(re.fullmatch(r"[0-9a-f]{64}", f) for f in found):
        raise ValueError("expected SHA-256 fingerprints: 64 hex digits each, ';'-separated")
    return found


_KEYS: dict[str, tuple[str, Callable[[str], object]]] = {
    "ScepAllowEnrollment": ("allow_enrollment", lambda v: EnrollmentMode(v.strip().upper())),
    "ScepAllowRenewal": ("allow_renewal", _yes_no),
    "ScepAutoApprove": ("auto_approve", _yes_no),
    "ScepKeepSubjectAltName": ("keep_subject_alt_name", _yes_no),
    "ScepDefaultRole": ("default_role", str),
    "ScepDefaultRA": ("default_ra", str),
    "ScepRenewalRDNMatch": ("renewal_rdn_match", _rdns),
    "ScepAutoApproveEnrollment": ("auto_approve_enrollment", _yes_no),
    "ScepRenewalWindowDays": ("renewal_window", lambda v: _days(v) if v.strip() else None),
    "ScepOutsideWindow": ("outside_window", lambda v: OutsideWindow(v.strip().upper())),
    "ScepExpiredSignerGraceDays": ("expired_signer_grace", _days),
    "ScepMaxValidCertificates": ("max_valid_certificates", _positive_int),
    "ScepRequireChallenge": ("require_challenge", _yes_no),
    "ScepWaiveChallengeOnRenewal": ("waive_challenge_on_renewal", _yes_no),
    "ScepOnBehalfEnrollers": ("on_behalf_enrollers", _patterns),
    "ScepTrustedRA": ("trusted_ras", _fingerprints),
    "ScepHonourRequestedValidity": ("honour_requested_validity", _yes_no),
    "ScepMaximumValidityDays": ("maximum_validity", lambda v: timedelta(days=_positive_int(v))),
    "ScepRoleFromTemplate": ("role_from_template", _yes_no),
    "ScepMinimumRSABits": ("minimum_rsa_bits", _positive_int),
    "ScepMinimumECBits": ("minimum_ec_bits", _positive_int),
    "ScepAllowedKeyAlgorithms": ("allowed_key_algorithms", _algorithms),
    "ScepRequireNewKey": ("require_new_key", _yes_no),
    "ScepRequestedSid": ("requested_sid", lambda v: RequestedSid(v.strip().upper())),
}


def parse_scep_conf(text: str, base: PolicyConfig | None = None) -> PolicyConfig:
    """A PolicyConfig from scep.conf text; PolicyConfigError names the offending line.

    Keys are matched exactly as OpenCA spells them; unknown keys, repeated
    keys, malformed lines and bad values are errors (a typo must not silently
    fall back to a default).
    """
    config = base or PolicyConfig()
    seen: dict[str, int] = {}
    changes: dict[str, object] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise PolicyConfigError(f'line {number}: expected  Key "VALUE", got {stripped[:60]!r}')
        key, value = match["key"], match["value"]
        if key not in _KEYS:
            raise PolicyConfigError(f"line {number}: unknown key {key!r}")
        if key in seen:
            raise PolicyConfigError(f"line {number}: {key} already set on line {seen[key]}")
        seen[key] = number
        attribute, convert = _KEYS[key]
        try:
            changes[attribute] = convert(value)
        except ValueError as exc:
            raise PolicyConfigError(f"line {number}: {key} {value!r}: {exc}") from None
    return replace(config, **changes)  # type: ignore[arg-type]

"""GetCACaps (RFC 8894 section 3.5): tolerant parser, exact emitter, algorithm negotiation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy, ContentCipher, DigestAlgorithm
from pyscep.enums import CACapability
from pyscep.errors import ParseError, UnsupportedAlgorithmError
from pyscep.messages.options import MessageOptions

__all__ = ["CAPABILITY_DIGESTS", "MAX_CAPS_SIZE", "CACaps", "Negotiated", "negotiate"]

#: Largest GetCACaps body accepted (real ones are under 200 bytes).
MAX_CAPS_SIZE = 64 * 1024
_BY_LOWER = {cap.value.lower(): cap for cap in CACapability}
_LINES = re.compile(r"\r\n|\n|\r")


@dataclass(frozen=True)
class CACaps:
    """The capabilities a CA advertised, in the order and spelling received."""

    keywords: tuple[str, ...] = ()
    #: ``LF`` or ``CRLF``: what separated the lines (``LF`` when there was one line).
    line_separator: str = "LF"
    trailing_newline: bool = False

    @classmethod
    def of(cls, capabilities: Iterable[CACapability | str]) -> CACaps:
        """Caps a CA advertises, keywords in the RFC's spelling."""
        return cls(tuple(str(_canonical(c) or c) for c in capabilities))

    @classmethod
    def parse(cls, body: bytes | str) -> CACaps:
        """Read a GetCACaps body: any case, CRLF or LF, blank lines and unknown keywords kept.

        An empty body means "no capabilities" (RFC 8894: the legacy baseline).
        """
        if len(body) > MAX_CAPS_SIZE:
            raise ParseError("GetCACaps body too large")
        if isinstance(body, bytes):
            try:
                body = body.decode("ascii")
            except UnicodeDecodeError:
                raise ParseError("GetCACaps body is not ASCII") from None
        separator = "CRLF" if "\r\n" in body else "LF"
        lines = [line.strip() for line in _LINES.split(body)]
        trailing = body.endswith(("\n", "\r"))
        return cls(tuple(line for line in lines if line), separator, trailing)

    def dump(self) -> bytes:
        """The body a CA sends: RFC spelling for known keywords, one per line."""
        newline = "\r\n" if self.line_separator == "CRLF" else "\n"
        words = [str(_canonical(k) or k) for k in self.keywords]
        return (newline.join(words) + (newline if self.trailing_newline else "")).encode("ascii")

    @property
    def known(self) -> frozenset[CACapability]:
        """The keywords pyscep knows, case-insensitively."""
        return frozenset(c for c in (_canonical(k) for k in self.keywords) if c is not None)

    @property
    def unknown(self) -> tuple[str, ...]:
        """Keywords pyscep does not know, as received."""
        return tuple(k for k in self.keywords if _canonical(k) is None)

    def __contains__(self, capability: object) -> bool:
        if isinstance(capability, str):
            found = _canonical(capability)
            return found is not None and found in self.known
        return False


def _canonical(keyword: CACapability | str) -> CACapability | None:
    if isinstance(keyword, CACapability):
        return keyword
    return _BY_LOWER.get(keyword.strip().lower())


@dataclass(frozen=True)
class Negotiated:
    """What a client should use with a CA, and why."""

    digest: DigestAlgorithm
    cipher: ContentCipher
    use_post: bool
    renewal_supported: bool
    reasons: tuple[str, ...]
    #: The policy the choice was made under.
    algorithms: AlgorithmPolicy = DEFAULT_POLICY

    @property
    def options(self) -> MessageOptions:
        """`MessageOptions` for requests to this CA: the chosen digest and cipher."""
        return MessageOptions(digest=self.digest, cipher=self.cipher, algorithms=self.algorithms)


_DIGEST_PREFERENCE = (
    (CACapability.SHA_256, DigestAlgorithm.SHA256),
    (CACapability.SHA_512, DigestAlgorithm.SHA512),
    (CACapability.SHA_384, DigestAlgorithm.SHA384),
    (CACapability.SHA_224, DigestAlgorithm.SHA224),
    (CACapability.SHA_1, DigestAlgorithm.SHA1),
)
#: The digest each GetCACaps keyword promises CertReps may be signed with (SCEPStandard
#: implies SHA-256, RFC 8894 section 3.5.2).
CAPABILITY_DIGESTS: dict[str, DigestAlgorithm] = {
    **{capability.value: digest for capability, digest in _DIGEST_PREFERENCE},
    CACapability.SCEP_STANDARD.value: DigestAlgorithm.SHA256,
}


def negotiate(caps: CACaps, algorithms: AlgorithmPolicy = DEFAULT_POLICY) -> Negotiated:
    """Pick digest, content cipher and POST vs GET by RFC 8894's rules.

    SCEPStandard implies AES, POSTPKIOperation and SHA-256. SHA-256 is preferred
    when offered (every RFC 8894 CA must support it), then the strongest other
    SHA. Without any digest or cipher capability the CA is assumed to speak
    only the draft baseline (MD5, single DES): usable only with the legacy
    opt-in, never a silent downgrade.
    """
    known = set(caps.known)
    reasons = []
    if CACapability.SCEP_STANDARD in known:
        known |= {CACapability.AES, CACapability.POST_PKI_OPERATION, CACapability.SHA_256}
        reasons.append("SCEPStandard implies AES, POSTPKIOperation and SHA-256")
    digest = next((d for cap, d in _DIGEST_PREFERENCE if cap in known), None)
    if digest is None:
        if not algorithms.allow_legacy:
            raise UnsupportedAlgorithmError("the CA advertises no SHA digest; MD5 needs legacy")
        digest = DigestAlgorithm.MD5
        reasons.append("no SHA capability: the draft baseline MD5 (legacy opt-in)")
    else:
        reasons.append(f"digest {digest.value}: advertised")
    if CACapability.AES in known:
        cipher = ContentCipher.AES128_CBC
        reasons.append("cipher aes128_cbc: AES advertised")
    elif CACapability.DES3 in known:
        cipher = ContentCipher.TRIPLEDES_CBC
        reasons.append("cipher tripledes_3key: DES3 advertised")
    elif algorithms.allow_legacy:
        cipher = ContentCipher.DES_CBC
        reasons.append("no AES or DES3 capability: single DES (legacy opt-in)")
    else:
        raise UnsupportedAlgorithmError("the CA advertises neither AES nor DES3; DES needs legacy")
    use_post = CACapability.POST_PKI_OPERATION in known
    reasons.append("POST: POSTPKIOperation" if use_post else "GET: POST not advertised")
    return Negotiated(
        digest=digest,
        cipher=cipher,
        use_post=use_post,
        renewal_supported=CACapability.RENEWAL in known,
        reasons=tuple(reasons),
        algorithms=algorithms,
    )

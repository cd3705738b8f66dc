"""pyscep: a sans-IO SCEP library (RFC 8894, compatible with draft-nourse-scep-12).

Bytes in, typed immutable values out, and back. The library never opens a
socket or a file and never reads a clock on its own.
"""

from __future__ import annotations

from ._version import __version__
from .algorithms import (
    DEFAULT_POLICY,
    LEGACY,
    AlgorithmPolicy,
    ContentCipher,
    DigestAlgorithm,
    KeyTransport,
    SignatureScheme,
)
from .certificate import Certificate
from .crypto import (
    CryptoBackend,
    Decrypter,
    KeyPair,
    PrivateKey,
    Signer,
    get_backend,
    load_decrypter,
    load_private_key,
    load_signer,
)
from .enums import CACapability, FailInfo, MessageType, PKIStatus, RevocationReason
from .errors import (
    BackendError,
    DecryptionError,
    KeyLoadError,
    KeyMismatchError,
    LimitExceededError,
    LocalProtocolError,
    ParseError,
    PolicyConfigError,
    ProtocolError,
    RemoteProtocolError,
    ScepError,
    UnsupportedAlgorithmError,
    VerificationError,
)
from .findings import Finding, FindingCode
from .limits import DEFAULT_LIMITS, Limits
from .public_key import PublicKey

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_POLICY",
    "LEGACY",
    "AlgorithmPolicy",
    "BackendError",
    "CACapability",
    "Certificate",
    "ContentCipher",
    "CryptoBackend",
    "Decrypter",
    "DecryptionError",
    "DigestAlgorithm",
    "FailInfo",
    "Finding",
    "FindingCode",
    "KeyLoadError",
    "KeyMismatchError",
    "KeyPair",
    "KeyTransport",
    "LimitExceededError",
    "Limits",
    "LocalProtocolError",
    "MessageType",
    "PKIStatus",
    "ParseError",
    "PolicyConfigError",
    "PrivateKey",
    "ProtocolError",
    "PublicKey",
    "RemoteProtocolError",
    "RevocationReason",
    "ScepError",
    "SignatureScheme",
    "Signer",
    "UnsupportedAlgorithmError",
    "VerificationError",
    "__version__",
    "get_backend",
    "load_decrypter",
    "load_private_key",
    "load_signer",
]

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
from .crypto import CryptoBackend, Decrypter, Signer, get_backend, load_decrypter, load_signer
from .enums import CACapability, FailInfo, MessageType, PKIStatus
from .errors import (
    DecryptionError,
    LocalProtocolError,
    ParseError,
    PolicyConfigError,
    ProtocolError,
    RemoteProtocolError,
    ScepError,
    UnsupportedAlgorithmError,
    VerificationError,
)

__all__ = [
    "DEFAULT_POLICY",
    "LEGACY",
    "AlgorithmPolicy",
    "CACapability",
    "Certificate",
    "ContentCipher",
    "CryptoBackend",
    "Decrypter",
    "DecryptionError",
    "DigestAlgorithm",
    "FailInfo",
    "KeyTransport",
    "LocalProtocolError",
    "MessageType",
    "PKIStatus",
    "ParseError",
    "PolicyConfigError",
    "ProtocolError",
    "RemoteProtocolError",
    "ScepError",
    "SignatureScheme",
    "Signer",
    "UnsupportedAlgorithmError",
    "VerificationError",
    "__version__",
    "get_backend",
    "load_decrypter",
    "load_signer",
]

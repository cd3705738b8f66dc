"""The pyscep exception hierarchy: one root, `ScepError`.

Every error the library raises for bad input, failed checks or misuse is a
`ScepError`. Errors that a SCEP server would answer with a CertRep FAILURE
carry the failInfo to use in `fail_info`.

This module is the ground every layer stands on, so it imports only
`pyscep.enums`: an error carries plain fields, and the reply context a
server needs (``reply_to``) is a value of the message layer that the errors
hold without knowing its type (`pyscep.messages.ReplyTo.of_error` reads it).
"""

from __future__ import annotations

from collections.abc import Sequence

from .enums import FailInfo

__all__ = [
    "BackendError",
    "DecryptionError",
    "KeyLoadError",
    "KeyMismatchError",
    "LimitExceededError",
    "LocalProtocolError",
    "ParseError",
    "PolicyConfigError",
    "ProtocolError",
    "RemoteProtocolError",
    "ScepError",
    "UnsupportedAlgorithmError",
    "VerificationError",
]


class ScepError(Exception):
    """Root of every exception pyscep raises on purpose.

    :ivar fail_info: the failInfo a SCEP server would answer with, or None
        where the error is not the peer's fault (misuse, configuration).
    :ivar reply_to: a `pyscep.messages.ReplyTo` when the error is about a
        request whose IDs could be read: everything a server needs to answer
        the CertRep FAILURE that RFC 8894 requires. None otherwise. Read it
        typed with ``ReplyTo.of_error(error)``.
    """

    default_fail_info: FailInfo | None = None
    #: Typed object because the ground layer cannot name the message layer's value;
    #: the message layer sets it only on a complete copy it raises (never after a raise).
    reply_to: object = None

    def __init__(self, message: str, *, fail_info: FailInfo | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fail_info = fail_info if fail_info is not None else self.default_fail_info


class ParseError(ScepError, ValueError):
    """Malformed BER/DER or a structure that is not what SCEP requires.

    :ivar path: breadcrumb of where in the structure parsing failed, outermost
        first, e.g. ``("ContentInfo", "SignedData", "signerInfos[0]")``.
    """

    default_fail_info = FailInfo.BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        path: Sequence[str] = (),
        fail_info: FailInfo | None = None,
    ) -> None:
        super().__init__(message, fail_info=fail_info)
        self.path = tuple(path)

    def __str__(self) -> str:
        if self.path:
            return f"{'/'.join(self.path)}: {self.message}"
        return self.message


class LimitExceededError(ParseError):
    """Input over a resource limit (`pyscep.Limits`, or a count such as 64 certificates).

    Raised before the excess is decoded, so time and memory stay bounded.
    """


class VerificationError(ScepError):
    """A signature, messageDigest or contentType check failed, or no signer was found."""

    default_fail_info = FailInfo.BAD_MESSAGE_CHECK


class DecryptionError(ScepError):
    """An envelope could not be opened.

    The message is the same whatever went wrong (wrong key, bad padding, bad
    lengths, no recipient for us), so that failures cannot serve as an oracle.
    """

    default_fail_info = FailInfo.BAD_MESSAGE_CHECK
    MESSAGE = "the envelope could not be decrypted"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class UnsupportedAlgorithmError(ScepError):
    """An algorithm is unknown, unavailable in the backend, or not allowed by policy."""

    default_fail_info = FailInfo.BAD_ALG


class ProtocolError(ScepError):
    """Well-formed input or a call that violates the SCEP protocol.

    Abstract: raise `LocalProtocolError` or `RemoteProtocolError`.
    """

    def __init__(self, message: str, *, fail_info: FailInfo | None = None) -> None:
        if type(self) is ProtocolError:
            raise TypeError("raise LocalProtocolError or RemoteProtocolError")
        super().__init__(message, fail_info=fail_info)


class LocalProtocolError(ProtocolError):
    """The caller asked for something SCEP does not allow (e.g. an incomplete builder)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something SCEP does not allow (missing attribute, nonce mismatch...).

    :ivar transaction_id: the request's transactionID when it could be recovered,
        so that a server can still answer with a CertRep FAILURE.
    :ivar sender_nonce: likewise the request's senderNonce.
    """

    default_fail_info = FailInfo.BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        fail_info: FailInfo | None = None,
        transaction_id: str | None = None,
        sender_nonce: bytes | None = None,
    ) -> None:
        super().__init__(message, fail_info=fail_info)
        self.transaction_id = transaction_id
        self.sender_nonce = sender_nonce


class PolicyConfigError(ScepError, ValueError):
    """Invalid policy configuration (a bad scep.conf line, an unknown key...)."""


class KeyLoadError(ScepError):
    """A private key could not be loaded (unreadable, encrypted, or of an unusable type)."""


class KeyMismatchError(ScepError):
    """A private key does not belong to the certificate it was paired with."""


class BackendError(ScepError):
    """An unknown crypto backend was named, or its optional dependency is missing."""

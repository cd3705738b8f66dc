"""`ReplyTo`: what a CertRep needs from the request it answers, and the errors that carry it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy, ContentCipher, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.errors import LocalProtocolError, ScepError

if TYPE_CHECKING:
    from pyscep.messages.pkimessage.values import PKIMessage

__all__ = ["ReplyTo", "answerable"]

_Error = TypeVar("_Error", bound=ScepError)


@dataclass(frozen=True)
class ReplyTo:
    """What a CertRep needs from the request it answers.

    Made from a verified request by `ReplyTo.of`, and found on every
    `ScepError` raised after a request's signature checked out
    (`ReplyTo.of_error`), so a server can always answer FAILURE. For a
    request that could not be verified it carries only the transactionID and
    senderNonce (no recipient: a FAILURE or PENDING has no envelope).
    """

    transaction_id: str
    sender_nonce: bytes
    #: The requester's certificate: the CertRep SUCCESS envelope is addressed to it.
    recipient: Certificate | None = None
    digest: DigestAlgorithm = DigestAlgorithm.SHA256
    cipher: ContentCipher = ContentCipher.AES128_CBC
    #: The algorithm policy the request was accepted under; the reply respects it.
    algorithms: AlgorithmPolicy = DEFAULT_POLICY
    #: For a requester whose key only signs (Ed25519): the challengePassword of its
    #: CSR, which keys the CertRep's PasswordRecipientInfo (RFC 8894 section 3.1).
    password: bytes | None = field(default=None, repr=False)

    @classmethod
    def of(cls, request: PKIMessage) -> ReplyTo:
        """Mirror a verified request: its IDs, signer, digest, cipher and algorithm policy."""
        if request.transaction_id is None or request.sender_nonce is None:
            raise LocalProtocolError("the request lacks transactionID or senderNonce")
        cipher = request.content_cipher or ContentCipher.AES128_CBC
        if cipher.read_only:
            # Read for old peers, never written: every client that sends
            # Blowfish (sscep, on OpenSSL) decrypts AES.
            cipher = ContentCipher.AES128_CBC
        return cls(
            transaction_id=request.transaction_id,
            sender_nonce=request.sender_nonce,
            recipient=request.signer_certificate,
            digest=request.digest,
            cipher=cipher,
            algorithms=request.algorithms,
        )

    @classmethod
    def of_error(cls, error: ScepError) -> ReplyTo | None:
        """The reply context an error carries (``error.reply_to``), typed; None when it has none."""
        reply_to = error.reply_to
        return reply_to if isinstance(reply_to, cls) else None


def answerable(error: _Error, reply_to: ReplyTo) -> _Error:
    """A copy of ``error`` that carries ``reply_to``: raise it ``from error``.

    Same class, text, ``args`` and fields; ``error`` itself is never changed,
    so an exception is complete when it is raised and never modified after.
    """
    completed = copy_of(error)
    completed.reply_to = reply_to
    return completed


def copy_of(error: _Error) -> _Error:
    """A copy of ``error``: same class, text, ``args`` and fields."""
    # Not the constructor: subclasses take different arguments (DecryptionError none).
    copied = type(error).__new__(type(error), *error.args)
    copied.__dict__.update(error.__dict__)
    return copied

"""Challenge passwords as a protocol the application plugs in, and their hygiene.

A `ChallengeChecker` gives its verdict on a request's challengePassword as a
`ChallengeVerdict` (accepted, refused or absent, and why: the reason becomes
the failInfoText and the trace entry). Three checkers ship:

- `StaticChallenge`: one shared secret, compared in constant time (an
  empty secret is refused when it is configured);
- `OneTimeChallenges`: challenges issued for one identity (a subject and/or
  SAN pattern) with an expiry, consumed atomically on first use, behind a
  `ChallengeStore` (`InMemoryChallenges` here; memory, SQLite and PostgreSQL in
  `pyscep.server.stores`);
  a replay, an expired challenge and one used for another identity are each
  refused with their own reason;
- `CallbackChallenge`: the application's own validator (an MDM, an
  Intune-style check).

Hygiene: `new_challenge` makes challenges every client can carry (Windows
sends challengePassword as PrintableString, so ``_ ! @ #`` break enrollment
on the device while the server logs success), `challenge_findings` lints a
received one.
"""

from __future__ import annotations

import enum
import fnmatch
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock
from typing import Protocol, runtime_checkable

from pyscep.errors import LocalProtocolError
from pyscep.findings import Finding, FindingCode
from pyscep.messages import CertificationRequest
from pyscep.policy import ChallengeOutcome, ChallengeVerdict, NamePattern
from pyscep.policy.identity import DistinguishedName
from pyscep.sid import VouchedSid, check_sid

__all__ = [
    "CHALLENGE_ALPHABET",
    "MIN_CHALLENGE_LENGTH",
    "CallbackChallenge",
    "ChallengeChecker",
    "ChallengeOutcome",
    "ChallengeStore",
    "ChallengeVerdict",
    "Consumed",
    "InMemoryChallenges",
    "IssuedChallenge",
    "OneTimeChallenges",
    "StaticChallenge",
    "TransactionChallengeChecker",
    "challenge_digest",
    "challenge_findings",
    "decide_consumption",
    "new_challenge",
    "require_secret",
]

#: Characters every client carries in a PrintableString challengePassword
#: (PrintableString also allows ``'()+,-./:=?`` and space; clients escape those badly).
CHALLENGE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
#: Shortest challenge `new_challenge` and `OneTimeChallenges.issue` make.
MIN_CHALLENGE_LENGTH = 16
_PRINTABLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")


class ChallengeChecker(Protocol):
    """The application's verdict on a request's challengePassword."""

    def check(self, password: str | None, request: CertificationRequest) -> ChallengeVerdict:
        """Judge ``password`` (None when the request carries none) for ``request``."""
        ...


@runtime_checkable
class TransactionChallengeChecker(Protocol):
    """A checker that also needs the request's transactionID (Intune's validation asks
    with it). The responder calls ``check_transaction`` on such a checker, ``check`` on
    any other."""

    def check(self, password: str | None, request: CertificationRequest) -> ChallengeVerdict:
        """Judge without a transactionID (a checker may refuse)."""
        ...

    def check_transaction(
        self, password: str | None, request: CertificationRequest, transaction_id: str
    ) -> ChallengeVerdict:
        """Judge ``password`` for ``request``, sent under ``transaction_id``."""
        ...


_NONE = ChallengeVerdict.absent()


def require_secret(secret: str | None, what: str = "a challenge password") -> str:
    """``secret`` if it has something in it; LocalProtocolError for an empty or absent one.

    An empty shared secret would admit anyone whose request carries an empty
    challengePassword (or none, to a careless reader): refuse it where it is
    configured, not where it is compared.
    """
    if secret is None or not secret.strip():
        raise LocalProtocolError(f"{what} cannot be empty")
    return secret


@dataclass(frozen=True)
class StaticChallenge:
    """One shared secret, compared in constant time; an empty one is refused here."""

    secret: str

    def __post_init__(self) -> None:
        require_secret(self.secret, "a static challenge")

    def check(self, password: str | None, request: CertificationRequest) -> ChallengeVerdict:
        """Constant-time comparison."""
        if password is None:
            return _NONE
        if hmac.compare_digest(password.encode(), self.secret.encode()):
            return ChallengeVerdict.accept("the challenge password checked out")
        return ChallengeVerdict.refuse("the challenge password is wrong")


@dataclass(frozen=True)
class CallbackChallenge:
    """The application's validator: ``validate(password, request)`` returns the verdict."""

    validate: Callable[[str | None, CertificationRequest], ChallengeVerdict]

    def check(self, password: str | None, request: CertificationRequest) -> ChallengeVerdict:
        """Ask the validator."""
        return self.validate(password, request)


def new_challenge(length: int = 24, alphabet: str = CHALLENGE_ALPHABET) -> str:
    """A random challenge of ``length`` characters (at least 16) of ``alphabet``
    (``CHALLENGE_ALPHABET``, or NDES's upper-case hexadecimal digits, which MDM
    connectors parse: at least 16 different characters either way)."""
    if length < MIN_CHALLENGE_LENGTH:
        raise LocalProtocolError(f"a challenge has at least {MIN_CHALLENGE_LENGTH} characters")
    if len(set(alphabet)) < 16 or not set(alphabet) <= _PRINTABLE - {" "}:
        raise LocalProtocolError("a challenge alphabet has 16 or more printable characters")
    return "".join(secrets.choice(alphabet) for _ in range(length))


def challenge_findings(request: CertificationRequest) -> tuple[Finding, ...]:
    """What a received challengePassword may break: its ASN.1 type and its characters."""
    password = request.challenge_password
    if password is None:
        return ()
    found = []
    if request.challenge_password_type != "printable_string":  # noqa: S105 - an ASN.1 type
        found.append(
            Finding(
                FindingCode.NOT_PRINTABLE_STRING,
                f"challengePassword is a {request.challenge_password_type}, not PrintableString",
            )
        )
    if not set(password) <= _PRINTABLE:
        found.append(
            Finding(
                FindingCode.NOT_PRINTABLE_STRING,
                "challengePassword has characters a PrintableString cannot carry",
            )
        )
    return tuple(found)


# --- one-time challenges -------------------------------------------------------------


@dataclass(frozen=True)
class IssuedChallenge:
    """A one-time challenge as stored: its hash, whom it is for, until when."""

    #: SHA-256 of the challenge (the challenge itself is never stored).
    digest: bytes
    #: RFC 4514 pattern the request's subject must match (None: any subject).
    subject: str | None
    #: Pattern (``*`` wildcards) one of the request's subjectAltNames must match.
    subject_alt_name: str | None
    expires: datetime
    #: The Windows account SID this challenge vouches for (`pyscep.sid`): whoever
    #: issued it knew the account; the certificate then carries this SID, and no other.
    sid: str | None = None


class Consumed(str, enum.Enum):
    """What consuming a challenge found."""

    OK = "ok"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


def decide_consumption(stored: IssuedChallenge | None, used: bool, now: datetime) -> Consumed:
    """What consuming a challenge finds, from what a store holds: the one rule of every store.

    A store reads the challenge (and whether it was used), asks this, and marks
    it used only on `Consumed.OK`, all in one atomic step: so a challenge is
    consumed once, however many workers or hosts try it at once. A challenge
    is valid up to and including its expiry time.
    """
    if stored is None:
        return Consumed.UNKNOWN
    if used:
        return Consumed.USED
    # As timestamps: stores hand back what they kept (aware or naive), and a
    # clock of either kind compares with either (a naive time is local time).
    if now.timestamp() > stored.expires.timestamp():
        return Consumed.EXPIRED
    return Consumed.OK


class ChallengeStore(Protocol):
    """Where one-time challenges live; ``consume`` is atomic (see `decide_consumption`)."""

    def add(self, challenge: IssuedChallenge) -> None:
        """Store a newly issued challenge."""
        ...

    def find(self, digest: bytes) -> IssuedChallenge | None:
        """The challenge with this hash, used or not."""
        ...

    def consume(self, digest: bytes, now: datetime) -> Consumed:
        """Mark the challenge used, once: only the first call gets OK."""
        ...


class InMemoryChallenges:
    """A ChallengeStore in a dict (one process)."""

    def __init__(self) -> None:
        self._challenges: dict[bytes, IssuedChallenge] = {}
        self._used: set[bytes] = set()
        self._lock = Lock()

    def add(self, challenge: IssuedChallenge) -> None:
        """Store it."""
        with self._lock:
            self._challenges[challenge.digest] = challenge

    def find(self, digest: bytes) -> IssuedChallenge | None:
        """Look it up."""
        return self._challenges.get(digest)

    def consume(self, digest: bytes, now: datetime) -> Consumed:
        """`decide_consumption`, under a lock: first use wins."""
        with self._lock:
            outcome = decide_consumption(self._challenges.get(digest), digest in self._used, now)
            if outcome is Consumed.OK:
                self._used.add(digest)
            return outcome

    def outstanding(self, now: datetime) -> int:
        """How many challenges are neither used nor expired at ``now``."""
        with self._lock:
            return sum(
                1
                for digest, challenge in self._challenges.items()
                if digest not in self._used
                and decide_consumption(challenge, False, now) is Consumed.OK
            )

    def counts(self) -> tuple[int, int]:
        """How many challenges were issued, and how many of them consumed."""
        with self._lock:
            return len(self._challenges), len(self._used)


def challenge_digest(challenge: str) -> bytes:
    """How a one-time challenge is stored: its SHA-256."""
    return hashlib.sha256(challenge.encode()).digest()


class OneTimeChallenges:
    """Challenges issued for one identity, valid once and until they expire.

    ``clock`` is injected (the checker never reads the time itself).
    """

    def __init__(self, store: ChallengeStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def issue(
        self,
        *,
        ttl: timedelta,
        subject: str | None = None,
        subject_alt_name: str | None = None,
        length: int = 24,
        sid: str | None = None,
        alphabet: str = CHALLENGE_ALPHABET,
    ) -> str:
        """A fresh challenge for ``subject`` (an RFC 4514 pattern) and/or a SAN pattern,
        vouching for the Windows account ``sid`` when given (the issuer knows the account).

        LocalProtocolError for a ``ttl`` that is not positive (a challenge expired
        when made would only fail the device that is given it), or a ``sid`` that is
        no SID.
        """
        if ttl <= timedelta(0):
            raise LocalProtocolError(f"a challenge lives a positive time, not {ttl}")
        if subject is not None:
            NamePattern.parse(subject)  # PolicyConfigError for a bad pattern, now
        if sid is not None:
            try:
                check_sid(sid)
            except ValueError as exc:
                raise LocalProtocolError(str(exc)) from None
        challenge = new_challenge(length, alphabet)
        self.store.add(
            IssuedChallenge(
                challenge_digest(challenge), subject, subject_alt_name, self.clock() + ttl, sid
            )
        )
        return challenge

    def check(self, password: str | None, request: CertificationRequest) -> ChallengeVerdict:
        """Consume the challenge if it is for this request's identity."""
        if password is None:
            return _NONE
        digest = challenge_digest(password)
        issued = self.store.find(digest)
        if issued is None:
            return ChallengeVerdict.refuse("the challenge password is unknown")
        mismatch = _not_for(issued, request)
        if mismatch is not None:
            # Checked before consuming: a challenge tried for another identity stays valid
            # for the identity it was issued to.
            return ChallengeVerdict.refuse(
                f"the challenge password was issued for another identity: {mismatch}"
            )
        outcome = self.store.consume(digest, self.clock())
        if outcome is Consumed.OK:
            if issued.sid is None:
                return ChallengeVerdict.accept("the one-time challenge checked out")
            return ChallengeVerdict.accept(
                f"the one-time challenge checked out; it vouches for SID {issued.sid}",
                sid=VouchedSid(issued.sid, "a one-time challenge issued for this SID"),
            )
        if outcome is Consumed.USED:
            return ChallengeVerdict.refuse("the challenge password was already used")
        if outcome is Consumed.EXPIRED:
            return ChallengeVerdict.refuse("the challenge password has expired")
        return ChallengeVerdict.refuse("the challenge password is unknown")


def _not_for(issued: IssuedChallenge, request: CertificationRequest) -> str | None:
    """Why ``request`` is not the identity ``issued`` is for, or None when it is."""
    if issued.subject is not None:
        subject = DistinguishedName.from_der(request.subject_der)
        if not NamePattern.parse(issued.subject).matches(subject):
            return f"the request's subject {subject} does not match {issued.subject!r}"
    if issued.subject_alt_name is not None:
        wanted = issued.subject_alt_name.casefold()
        names = request.subject_alt_names
        if not any(fnmatch.fnmatchcase(san.casefold(), wanted) for san in names):
            return f"no subjectAltName of the request matches {issued.subject_alt_name!r}"
    return None

"""`in_memory_ca`: a SCEP CA in memory, for examples and tests of client code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pyscep.certificate import Certificate
from pyscep.enums import FailInfo
from pyscep.http import HTTPRequest
from pyscep.protocol.challenges import StaticChallenge
from pyscep.protocol.server import Answered, EnrollmentRequested, ResponderConfig, ScepResponder
from pyscep.testing.pki import make_identity

__all__ = ["Transport", "in_memory_ca"]

#: Sends one request and returns (status, Content-Type, body), what `ScepClient.receive` takes.
Transport = Callable[[HTTPRequest], tuple[int, str | None, bytes]]


def in_memory_ca(*, challenge: str, now: datetime) -> tuple[Transport, Certificate]:
    """(a transport into a fresh CA, the CA's certificate).

    The CA is a `ScepResponder` that issues to every enrollment whose
    ``challenge`` checked out and to verified renewals (signed by a
    certificate it issued, valid, for the same identity), and refuses the
    rest (badRequest): a stand-in for the HTTP client and SCEP server of real
    life. Every request is judged at ``now``.
    """
    ca = make_identity("In-memory CA", now=now, ca=True)
    responder = ScepResponder(
        ResponderConfig(
            ca_certificate=ca.certificate,
            signer=ca.signer,
            decrypter=ca.decrypter,
            challenge=StaticChallenge(challenge),
        )
    )

    def send(request: HTTPRequest) -> tuple[int, str | None, bytes]:
        query = request.target.partition("?")[2]
        event = responder.receive(request.method, request.path, query, request.body, now=now)
        if isinstance(event, Answered):
            response = event.response
        elif isinstance(event, EnrollmentRequested) and (event.challenge.accepted or event.renewal):
            response = responder.issue(event, ca, now=now)
        else:
            response = responder.reject(event, FailInfo.BAD_REQUEST, now=now)
        return response.status, response.content_type, response.body

    return send, ca.certificate

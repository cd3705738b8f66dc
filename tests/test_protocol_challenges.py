"""Challenge checkers: static, one-time, callback.

The stores behind one-time challenges (memory, SQLite, PostgreSQL, across
processes) are held to their contract in tests/test_server_stores.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyscep
from pyscep import LocalProtocolError, PolicyConfigError
from pyscep.messages import CertificationRequest, build_csr
from pyscep.protocol.challenges import (
    CHALLENGE_ALPHABET,
    CallbackChallenge,
    ChallengeOutcome,
    ChallengeVerdict,
    InMemoryChallenges,
    OneTimeChallenges,
    StaticChallenge,
    challenge_findings,
    new_challenge,
)
from pyscep.testing import make_identity
from tests.support.helpers import NOW

KEY = pyscep.load_private_key(make_identity("challenge device", now=NOW).key_der)


def request(
    subject: str = "CN=dev1", password: str | None = None, sans: tuple[str, ...] = ()
) -> CertificationRequest:
    return build_csr(KEY, subject, challenge_password=password, subject_alt_names=sans)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def test_static_challenge_is_compared_and_says_why() -> None:
    checker = StaticChallenge("sesame-open-sesame")
    assert checker.check("sesame-open-sesame", request()).accepted
    assert checker.check("sesame", request()) == ChallengeVerdict.refuse(
        "the challenge password is wrong"
    )
    assert checker.check(None, request()).outcome is ChallengeOutcome.ABSENT


def test_a_callback_is_the_applications_validator() -> None:
    seen: list[str | None] = []

    def validate(password: str | None, csr: CertificationRequest) -> ChallengeVerdict:
        seen.append(password)
        if password == "from-the-mdm":
            return ChallengeVerdict.accept("asked the MDM")
        return ChallengeVerdict.refuse("asked the MDM")

    checker = CallbackChallenge(validate)
    assert checker.check("from-the-mdm", request()).accepted
    assert checker.check("guess", request()).outcome is ChallengeOutcome.REFUSED
    assert seen == ["from-the-mdm", "guess"]


def test_new_challenges_travel_in_a_printable_string() -> None:
    for _ in range(50):
        challenge = new_challenge()
        assert len(challenge) == 24
        assert set(challenge) <= set(CHALLENGE_ALPHABET)
        assert challenge_findings(request(password=challenge)) == ()
    assert len({new_challenge() for _ in range(50)}) == 50
    with pytest.raises(LocalProtocolError):
        new_challenge(8)


@pytest.mark.parametrize("password", ["under_score", "bang!", "at@sign", "hash#tag", "naïve"])
def test_a_challenge_windows_cannot_send_is_a_finding(password: str) -> None:
    # build_csr sends these as UTF8String (they do not fit a PrintableString).
    findings = challenge_findings(request(password=password))
    assert findings
    assert all(f.code is pyscep.FindingCode.NOT_PRINTABLE_STRING for f in findings)


def _one_time(clock: Clock) -> OneTimeChallenges:
    return OneTimeChallenges(InMemoryChallenges(), clock)


def test_a_one_time_challenge_works_once() -> None:
    checker = _one_time(Clock())
    challenge = checker.issue(ttl=timedelta(hours=1), subject="CN=dev1")
    first = checker.check(challenge, request())
    assert first == ChallengeVerdict.accept("the one-time challenge checked out")
    again = checker.check(challenge, request())
    assert again == ChallengeVerdict.refuse("the challenge password was already used")


def test_an_expired_challenge_is_refused_by_the_injected_clock() -> None:
    clock = Clock()
    checker = _one_time(clock)
    challenge = checker.issue(ttl=timedelta(minutes=5))
    clock.now = NOW + timedelta(minutes=6)
    assert checker.check(challenge, request()) == ChallengeVerdict.refuse(
        "the challenge password has expired"
    )


def test_a_challenge_for_another_identity_is_refused_and_stays_valid() -> None:
    checker = _one_time(Clock())
    challenge = checker.issue(ttl=timedelta(hours=1), subject="CN=dev1")
    assert checker.check(challenge, request("CN=intruder")) == ChallengeVerdict.refuse(
        "the challenge password was issued for another identity: the request's subject"
        " CN=intruder does not match 'CN=dev1'"
    )
    assert checker.check(challenge, request("CN=dev1")).accepted


def test_a_challenge_can_be_bound_to_a_subject_alt_name() -> None:
    checker = _one_time(Clock())
    challenge = checker.issue(ttl=timedelta(hours=1), subject_alt_name="dns_name:*.example.com")
    assert (
        checker.check(challenge, request(sans=("dns_name:other.test",))).outcome
        is ChallengeOutcome.REFUSED
    )
    assert checker.check(challenge, request(sans=("dns_name:vpn.example.com",))).accepted


def test_unknown_challenges_and_bad_patterns() -> None:
    checker = _one_time(Clock())
    assert checker.check("never-issued-challenge", request()) == ChallengeVerdict.refuse(
        "the challenge password is unknown"
    )
    with pytest.raises(PolicyConfigError):
        checker.issue(ttl=timedelta(hours=1), subject="CN")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["right", "wrong-identity", "unknown"]), min_size=1, max_size=12))
def test_a_consumed_challenge_never_works_twice(attempts: list[str]) -> None:
    checker = _one_time(Clock())
    challenge = checker.issue(ttl=timedelta(hours=1), subject="CN=dev1")
    successes = 0
    for attempt in attempts:
        if attempt == "right":
            successes += checker.check(challenge, request()).accepted
        elif attempt == "wrong-identity":
            assert checker.check(challenge, request("CN=else")).outcome is ChallengeOutcome.REFUSED
        else:
            assert checker.check("x" * 24, request()).outcome is ChallengeOutcome.REFUSED
    assert successes == (1 if "right" in attempts else 0)

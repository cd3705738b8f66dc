"""``pyscep demo``: the whole lifecycle, through the real client and server, in-process and live.

The expectations here come from RFC 8894 and the demo's policy (one-time
challenges issue at once, no challenge waits for the operator, renewals are
auto-approved, two valid certificates per CN), not from the demo's own report:
the saved messages are parsed again and checked against each other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pyscep.cli import main
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.messages import parse_pki_message
from pyscep.messages.inspect import inspect_payload

Transcript = tuple[dict[str, Any], Path]

CHAPTERS = [
    ("ready", ["GetCACaps", "GetCACert"]),
    ("SUCCESS", ["PKIOperation"]),
    ("SUCCESS", ["PKIOperation"] * 3),  # PKCSReq PENDING, CertPoll PENDING, CertPoll SUCCESS
    ("SUCCESS", ["PKIOperation"]),
    ("FAILURE", ["PKIOperation"]),
    ("FAILURE", ["PKIOperation"]),
    ("FAILURE", ["PKIOperation"]),
    ("rollover", ["GetNextCACert"]),
    ("SUCCESS", ["PKIOperation"]),
]


@pytest.fixture(scope="module")
def transcript(tmp_path_factory: pytest.TempPathFactory) -> Transcript:
    out = tmp_path_factory.mktemp("demo")
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["demo", "--json", "--out", str(out / "messages")]) == 0
    return json.loads(buffer.getvalue()), out / "messages"


def test_the_text_transcript_tells_every_chapter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("(as expected)") == len(CHAPTERS)
    for needle in (
        "GetCACaps",
        "POST PKCSReq",
        "CertRep, PENDING",
        "POST CertPoll",
        "the operator approved it",
        "monitor check on",
        "POST RenewalReq",
        "decided by rule identity",
        "decided by rule max-valid-certificates",
        "the challenge password was already used",
        "GetNextCACert",
        "to kari",
        "sha256_ecdsa",
    ):
        assert needle in out, needle


def test_every_chapter_ends_as_the_policy_says(transcript: tuple[dict, Path]) -> None:  # type: ignore[type-arg]
    document, _ = transcript
    steps = document["steps"]
    assert [(s["outcome"], [e["operation"] for e in s["exchanges"]]) for s in steps] == CHAPTERS
    # The deciding rule of each decided request, in order.
    rules = [
        [d["policy"]["decidingRule"] for d in e["decisions"]]
        for s in steps
        for e in s["exchanges"]
        if e["decisions"]
    ]
    assert rules == [
        ["approval"],  # one-time challenge: ScepAutoApproveEnrollment
        ["approval"],  # no challenge: left for manual approval
        ["approval"],  # renewal: ScepAutoApprove
        ["identity"],
        ["max-valid-certificates"],
        ["challenge"],
        ["approval"],  # the EC device
    ]
    pending = steps[2]["exchanges"][0]["decisions"][0]["policy"]
    assert pending["decision"] == "PENDING"


def _messages(directory: Path, chapter: int) -> list[tuple[bytes, bytes]]:
    """(request, reply) pairs of one chapter's PKIOperations, from the saved files."""
    pairs = []
    for reply in sorted(directory.glob(f"{chapter:02d}-*-PKIOperation-reply.der")):
        stem = reply.name.removesuffix("-reply.der")
        (request,) = [p for p in directory.glob(f"{stem}-*.der") if p != reply]
        pairs.append((request.read_bytes(), reply.read_bytes()))
    return pairs


def test_replies_answer_their_requests(transcript: tuple[dict, Path]) -> None:  # type: ignore[type-arg]
    """RFC 8894 section 3.3.2: same transactionID; recipientNonce = the request's senderNonce."""
    _, directory = transcript
    seen = 0
    for chapter in range(1, len(CHAPTERS) + 1):
        for request_der, reply_der in _messages(directory, chapter):
            request, reply = parse_pki_message(request_der), parse_pki_message(reply_der)
            assert reply.message_type is MessageType.CERT_REP
            assert reply.transaction_id == request.transaction_id
            assert reply.recipient_nonce == request.sender_nonce
            assert reply.sender_nonce != request.sender_nonce
            seen += 1
    assert seen == 9  # 1 + 3 (PENDING, poll, poll) + 4 + 1 (EC)


def test_the_chapters_send_what_they_say(transcript: tuple[dict, Path]) -> None:  # type: ignore[type-arg]
    _, directory = transcript
    kinds = {
        chapter: [
            (parse_pki_message(q).message_type, parse_pki_message(r).pki_status)
            for q, r in _messages(directory, chapter)
        ]
        for chapter in range(2, 10)
        if chapter != 8
    }
    success, pending, failure = PKIStatus.SUCCESS, PKIStatus.PENDING, PKIStatus.FAILURE
    assert kinds[2] == [(MessageType.PKCS_REQ, success)]
    assert kinds[3] == [
        (MessageType.PKCS_REQ, pending),
        (MessageType.CERT_POLL, pending),
        (MessageType.CERT_POLL, success),
    ]
    assert kinds[4] == [(MessageType.RENEWAL_REQ, success)]
    assert kinds[5] == kinds[6] == [(MessageType.RENEWAL_REQ, failure)]
    assert kinds[7] == [(MessageType.PKCS_REQ, failure)]
    assert kinds[9] == [(MessageType.PKCS_REQ, success)]
    refusals = [parse_pki_message(r) for c in (5, 6, 7) for _, r in _messages(directory, c)]
    assert all(r.fail_info is FailInfo.BAD_REQUEST and r.fail_info_text for r in refusals)
    # The renewal is signed by the certificate chapter 2 issued, not by a throw-away one.
    renewal = parse_pki_message(_messages(directory, 4)[0][0])
    signer = renewal.claimed_signer()
    assert signer is not None
    assert not signer.self_signed
    assert signer.subject == "Common Name: demo-device-1"
    # The EC device's reply is encrypted by key agreement (RFC 8894 section 3.1).
    ec_reply = parse_pki_message(_messages(directory, 9)[0][1])
    assert ec_reply.envelope is not None
    assert [r.kind for r in ec_reply.envelope.recipients] == ["kari"]


def test_every_saved_message_decodes_with_inspect(transcript: tuple[dict, Path]) -> None:  # type: ignore[type-arg]
    _, directory = transcript
    files = sorted(directory.iterdir())
    assert len(files) == 21
    kinds = set()
    for path in files:
        inspection = inspect_payload(path.read_bytes())
        assert inspection.errors == (), path.name
        kinds.add(inspection.kind)
    assert kinds == {
        "GetCACaps",
        "GetCACert",
        "GetNextCACert",
        "PKCSReq",
        "CertPoll",
        "RenewalReq",
        "CertRep",
    }


def test_live_runs_the_same_story_over_http(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--live", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["server"].startswith("http://127.0.0.1:")
    steps = document["steps"]
    assert [(s["outcome"], [e["operation"] for e in s["exchanges"]]) for s in steps] == CHAPTERS

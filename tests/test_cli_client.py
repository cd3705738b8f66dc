"""``pyscep client`` on bad input or a server that is not one: one clear line, never a traceback.

Each case runs the command in-process: an exception escaping ``main`` fails the test.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest

import pyscep
from pyscep.cli import main
from pyscep.messages import build_csr
from pyscep.testing import make_identity
from tests.support.helpers import NOW, pem_cert, pem_key
from tests.support.hostile_ca import served

DEVICE = make_identity("device", now=NOW)
STRANGER = make_identity("stranger", now=NOW)
#: Nothing listens there: a case that reached the network would fail differently.
NOWHERE = "http://127.0.0.1:9/scep"


def _one_line_error(capsys: pytest.CaptureFixture[str], *expected: str) -> str:
    error = capsys.readouterr().err
    assert error.startswith("pyscep client: ")
    assert error.count("\n") == 1
    for text in expected:
        assert text in error
    return error


#: Damaged pending files: how each is made from a good one, and what the error must say.
DAMAGED: dict[str, tuple[Callable[[dict[str, object], Path], object], str]] = {
    "not JSON": (lambda whole, here: "{", "not JSON"),
    "not an object": (lambda whole, here: [whole], "not a pending request"),
    "missing keys": (
        lambda whole, here: {"csr": whole["csr"]},
        "key, cert_out, transaction_id missing",
    ),
    "wrong types": (
        lambda whole, here: {**whole, "key": 5, "transaction_id": None},
        "key, transaction_id missing or not a string",
    ),
    "bad hex": (lambda whole, here: {**whole, "csr": "zz"}, "csr is not a certification request"),
    "not a CSR": (
        lambda whole, here: {**whole, "csr": "3003020100"},
        "csr is not a certification request",
    ),
    "no key file": (lambda whole, here: {**whole, "key": str(here / "gone.key")}, "No such file"),
    "key unreadable": (lambda whole, here: {**whole, "key": str(here)}, "the key"),
    "not a key": (
        lambda whole, here: {**whole, "key": str(here / "not-a-key")},
        "is not a private key",
    ),
    "another key": (
        lambda whole, here: {
            **whole,
            "csr": build_csr(pyscep.load_private_key(STRANGER.key_der), "CN=x").der.hex(),
        },
        "is not the csr's",
    ),
}


@pytest.mark.parametrize("case", DAMAGED)
def test_a_damaged_pending_file_is_one_clear_line_and_exit_2(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "device.key").write_bytes(pem_key(DEVICE))
    (tmp_path / "not-a-key").write_text("garbage\n")
    csr = build_csr(pyscep.load_private_key(DEVICE.key_der), "CN=device").der.hex()
    whole: dict[str, object] = {
        "key": str(tmp_path / "device.key"),
        "csr": csr,
        "cert_out": str(tmp_path / "device.crt"),
        "transaction_id": "T",
    }
    damage, expected = DAMAGED[case]
    content = damage(whole, tmp_path)
    pending = tmp_path / "device.pending.json"
    pending.write_text(content if isinstance(content, str) else json.dumps(content))
    assert main(["client", "poll", NOWHERE, "--pending", str(pending)]) == 2
    _one_line_error(capsys, f"--pending {pending}: ", expected)


def test_a_missing_pending_file_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.pending.json"
    assert main(["client", "poll", NOWHERE, "--pending", str(missing)]) == 2
    _one_line_error(capsys, f"--pending {missing}: No such file")


@pytest.mark.parametrize("pin", ["zz", "abcd", "00" * 31, "00" * 33])
def test_a_ca_fingerprint_that_is_not_a_sha256_is_refused_before_anything_is_sent(
    pin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["client", "getca", NOWHERE, "--out", "/dev/null", "--ca-fingerprint", pin]) == 2
    _one_line_error(capsys, "--ca-fingerprint: the SHA-256 of the CA certificate, 64 hex digits")


def test_a_serial_that_is_not_a_number_is_refused_before_anything_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "device.key").write_bytes(pem_key(DEVICE))
    (tmp_path / "device.crt").write_bytes(pem_cert(DEVICE.certificate))
    status = main(
        [
            "client", "getcert", NOWHERE, "--key", str(tmp_path / "device.key"),
            "--cert", str(tmp_path / "device.crt"), "--serial", "twelve",
            "--out", str(tmp_path / "out.pem"),
        ]
    )  # fmt: skip
    assert status == 2
    _one_line_error(capsys, "--serial 'twelve': a serial number in decimal")


@pytest.mark.parametrize(
    ("arguments", "missing"),
    [
        (["renew"], "--key, --cert, --key-out, --cert-out"),
        (["enroll", "--subject", "CN=x"], "--key-out, --cert-out"),
        (["getcert", "--key", "k", "--cert", "c"], "--out"),
        (["getca"], "--out"),
        (["poll"], "--pending"),
    ],
)
def test_a_missing_option_is_named(
    arguments: list[str], missing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    action, *options = arguments
    assert main(["client", action, NOWHERE, *options]) == 2
    _one_line_error(capsys, f"{action} needs {missing}")


@contextmanager
def _answering(answer_bytes: bytes) -> Iterator[str]:
    """A server that answers every connection with ``answer_bytes``, then closes it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    done = threading.Event()

    def answer() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.recv(65536)
                connection.sendall(answer_bytes)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/scep"
    finally:
        done.set()
        thread.join(10)
        listener.close()


@pytest.mark.parametrize("action", ["getcaps", "getca"])
def test_a_server_that_does_not_speak_http_is_one_clear_line(
    action: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _answering(b"SSH-2.0-OpenSSH_9.6\r\n") as url:
        assert main(["client", action, url, "--out", str(tmp_path / "ca.pem")]) == 2
    _one_line_error(capsys, "the answer is not HTTP")


def test_an_answer_cut_off_before_its_content_length_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A server killed mid-answer: the headers and part of the body came, then the end.
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-x509-ca-cert\r\n"
    cut_off = head + b"Content-Length: 1000\r\n\r\n" + b"\x30\x82\x03\xe4" + b"\x00" * 6
    with _answering(cut_off) as url:
        assert main(["client", "getca", url, "--out", str(tmp_path / "ca.pem")]) == 2
    _one_line_error(capsys, "the answer was cut off after 10 bytes of 1000")
    assert not (tmp_path / "ca.pem").exists()


def test_getcaps_says_when_the_server_advertises_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with served(lambda target, body: (404, "text/html", b"<h1>Not Found</h1>")) as url:
        assert main(["client", "getcaps", url]) == 0
    captured = capsys.readouterr()
    assert captured.out == "\n"
    assert "no capabilities advertised" in captured.err


def test_getca_from_a_server_that_answers_garbage_is_a_protocol_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    caps = b"POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\n"

    def answer(target: str, body: bytes) -> tuple[int, str, bytes]:
        if "GetCACaps" in target:
            return 200, "text/plain", caps
        return 200, "application/x-x509-ca-cert", b"\x30\x82\xff\xff garbage"

    with served(answer) as url:
        assert main(["client", "getca", url, "--out", str(tmp_path / "ca.pem")]) == 5
    _one_line_error(capsys, "the server broke the protocol")
    assert not (tmp_path / "ca.pem").exists()


def test_enroll_without_caps_says_why_the_legacy_algorithms_are_needed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(timezone.utc)
    ca = make_identity("Client CA", now=now, ca=True)

    def answer(target: str, body: bytes) -> tuple[int, str, bytes]:
        if "GetCACaps" in target:
            return 404, "text/plain", b"not here"
        return 200, "application/x-x509-ca-cert", ca.certificate.der

    with served(answer) as url:
        status = main(
            [
                "client", "enroll", url, "--subject", "CN=x", "--challenge", "c",
                "--key-out", str(tmp_path / "k"), "--cert-out", str(tmp_path / "c"),
            ]
        )  # fmt: skip
    assert status == 2
    _one_line_error(capsys, "advertised no capabilities", "--legacy")
    assert not (tmp_path / "k").exists()

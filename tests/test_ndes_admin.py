"""The NDES-style ``mscep_admin`` page (issue 23, part 4).

MDM connectors fetch a one-time password from NDES's page and hand it to devices.
The page is parsed here by the rules those connectors publish (Fleet's
``scep_proxy.go``, zentral's ``microsoft_ca.py``, PSNDESEnrollment's
``Get-NDESOTP``), re-implemented from their descriptions; each must find the same
password, which then enrolls once. Last, the page is fetched over real TLS from
gunicorn, with HTTP Basic, as a connector would.
"""

from __future__ import annotations

import base64
import os
import re
import sqlite3
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import pyscep
from pyscep import PKIStatus
from pyscep.http import HTTPResponse
from pyscep.messages import build_csr, build_pkcs_req, open_cert_rep, self_signed_signer
from pyscep.server import ReferenceServer, ServeConfigError, ServeOptions, check_options
from pyscep.server.ndes_admin import load_ndes_admin_credentials
from pyscep.testing import make_identity
from tests.support.helpers import current_time, tls_files
from tests.support.served import free_port

CREDENTIALS = "basic intune-connector:correct horse battery staple\nbearer tok-7f3a9c2e51b8d4\n"
BASIC = "Basic " + base64.b64encode(b"intune-connector:correct horse battery staple").decode()


# --- the connectors' parsing rules, as they publish them -----------------------------


def fleet(body: bytes, content_type: str) -> str | None:
    """Fleet: UTF-16LE when it has a BOM, starts with '<' NUL, or is 90% NULs at odd
    offsets; else the charset; then the password after "challenge password is: <B> "."""
    sample = body[:100]
    nulls = sum(1 for i in range(1, len(sample), 2) if sample[i] == 0)
    utf16 = body[:2] == b"\xff\xfe" or body[:2] == b"<\x00" or nulls >= 0.9 * (len(sample) // 2)
    if utf16:
        text = body.decode("utf-16-le").lstrip("\ufeff")
    else:
        charset = re.search(r"charset=([\w-]+)", content_type)
        text = body.decode(charset.group(1) if charset else "utf-8")
    if "The password cache is full." in text:
        return None
    found = re.search(r"(?i)The enrollment challenge password is: <B> (?P<password>\S*)", text)
    return found.group("password") if found else None


def zentral(body: bytes) -> str | None:
    """zentral: the body decoded as UTF-16, then ``[A-Z0-9]{16,32}`` between <B> and </B>."""
    found = re.search(r"challenge password is: <B> ([A-Z0-9]{16,32}) </B>", body.decode("utf-16"))
    return found.group(1) if found else None


def psndesenrollment(body: bytes) -> str | None:
    """PSNDESEnrollment: .NET's Encoding.Unicode (UTF-16LE, the BOM kept as U+FEFF), then
    the first run of ``[A-F0-9]{16}`` (its default password length of 8 bytes)."""
    found = re.search(r"[A-F0-9]{16}", body.decode("utf-16-le"))
    return found.group(0) if found else None


# --- the page, in-process ---------------------------------------------------------------


def _server(tmp_path: Path, *, credentials: str = CREDENTIALS, **options: Any) -> ReferenceServer:
    file = tmp_path / "mscep_admin.credentials"
    file.write_text(credentials)
    file.chmod(0o600)
    return ReferenceServer(
        ServeOptions(
            tmp_path / "state",
            challenge_mode="one-time",
            ndes_admin_credentials=file,
            **options,
        )
    )


def _challenges_made(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "state" / "state.sqlite") as db:
        (count,) = db.execute("SELECT count(*) FROM challenges").fetchone()
    return int(count)


def _fetch(server: ReferenceServer, **headers: str) -> HTTPResponse:
    sent = {":scheme": "https", ":tls": "connection", **{k.lower(): v for k, v in headers.items()}}
    return server.handle_with_headers("GET", "/certsrv/mscep_admin/", "", b"", sent)


def _enroll(server: ReferenceServer, password: str) -> Any:
    now = current_time()
    key = pyscep.load_private_key(make_identity("device", now=now).key_der)
    signer = self_signed_signer(key, "CN=router-9", now=now)
    csr = build_csr(key, "CN=router-9", challenge_password=password)
    built = build_pkcs_req(csr, signer=signer, recipient=server.files.ca.certificate)
    response = server.handle(
        "POST", "/certsrv/mscep/mscep.dll", "operation=PKIOperation", built.der
    )
    reply, _ = open_cert_rep(
        response.body, signer, ca_certificates=[server.files.ca.certificate], request=built
    )
    return reply


def test_every_connector_reads_the_password_and_it_enrolls_once(tmp_path: Path) -> None:
    server = _server(tmp_path)
    page = _fetch(server, Authorization=BASIC)
    assert page.status == 200
    assert page.body[:2] == b"\xff\xfe"  # UTF-16LE with its byte-order mark, as NDES
    password = fleet(page.body, page.content_type)
    assert password is not None
    assert re.fullmatch(r"[0-9A-F]{16}", password)
    assert zentral(page.body) == password
    assert psndesenrollment(page.body) == password
    assert _challenges_made(tmp_path) == 1
    assert _enroll(server, password).pki_status is PKIStatus.SUCCESS
    assert _enroll(server, password).pki_status is PKIStatus.FAILURE  # once only
    # Each page is a new password.
    again = fleet(_fetch(server, Authorization=BASIC).body, page.content_type)
    assert again not in (None, password)


def test_a_bearer_token_is_a_credential_too(tmp_path: Path) -> None:
    page = _fetch(_server(tmp_path), Authorization="Bearer tok-7f3a9c2e51b8d4")
    assert page.status == 200
    assert zentral(page.body) is not None


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic " + base64.b64encode(b"intune-connector:wrong").decode(),
        "Basic " + base64.b64encode(b"someone:correct horse battery staple").decode(),
        "Basic not-base64!",
        "Bearer tok-7f3a9c2e51b8d",
        "Bearer ",
        "Negotiate TlRMTVNTUAAB",  # NTLM is not spoken
    ],
)
def test_without_valid_credentials_no_password(tmp_path: Path, authorization: str | None) -> None:
    server = _server(tmp_path)
    page = _fetch(server, **({} if authorization is None else {"Authorization": authorization}))
    assert page.status == 401
    assert ("WWW-Authenticate", 'Basic realm="mscep_admin", charset="UTF-8"') in page.headers
    assert _challenges_made(tmp_path) == 0


def test_over_plain_http_the_page_is_refused(tmp_path: Path) -> None:
    server = _server(tmp_path)
    for sent in (
        {":scheme": "http", "authorization": BASIC},
        # What gunicorn and uvicorn make of X-Forwarded-Proto from loopback: a claim.
        {":scheme": "https", "authorization": BASIC},
    ):
        page = server.handle_with_headers("GET", "/certsrv/mscep_admin/", "", b"", sent)
        assert page.status == 403
        assert b"TLS" in page.body
    post = server.handle_with_headers(
        "POST", "/certsrv/mscep_admin", "", b"", {":tls": "connection", "authorization": BASIC}
    )
    assert post.status == 405
    assert ("Allow", "GET") in post.headers
    assert _challenges_made(tmp_path) == 0


def test_behind_a_proxy_the_operator_names_the_scheme_is_taken(tmp_path: Path) -> None:
    server = _server(tmp_path, ndes_admin_behind_proxy=True)
    sent = {":scheme": "https", "authorization": BASIC}
    assert server.handle_with_headers("GET", "/certsrv/mscep_admin/", "", b"", sent).status == 200
    sent = {":scheme": "http", "authorization": BASIC}
    assert server.handle_with_headers("GET", "/certsrv/mscep_admin/", "", b"", sent).status == 403


def test_the_password_cache_fills_up_as_ndes_does(tmp_path: Path) -> None:
    server = _server(tmp_path, ndes_admin_cache=2)
    first = fleet(_fetch(server, Authorization=BASIC).body, "text/html")
    assert first is not None
    assert fleet(_fetch(server, Authorization=BASIC).body, "text/html") is not None
    full = _fetch(server, Authorization=BASIC)
    assert full.status == 200
    assert "The password cache is full." in full.body.decode("utf-16")
    assert fleet(full.body, full.content_type) is None  # what Fleet reports as cache-full
    assert _challenges_made(tmp_path) == 2
    # A password used is no longer waiting: there is room for one more.
    assert _enroll(server, first).pki_status is PKIStatus.SUCCESS
    assert fleet(_fetch(server, Authorization=BASIC).body, "text/html") is not None


def test_a_server_without_credentials_has_no_page(tmp_path: Path) -> None:
    server = ReferenceServer(ServeOptions(tmp_path / "state", challenge="s3cret-challenge"))
    page = server.handle_with_headers(
        "GET", "/certsrv/mscep_admin/", "", b"", {":scheme": "https", "authorization": BASIC}
    )
    assert page.status == 404


@pytest.mark.parametrize(
    ("content", "mode", "error"),
    [
        ("basic admin:\n", 0o600, "is empty"),
        ("basic :password\n", 0o600, "has a name"),
        ("basic admin:one\nbasic admin:two\n", 0o600, "named twice"),
        ("basic admin: spaced \n", 0o600, "starts or ends with a space"),
        ("bearer caf\u00e9\n", 0o600, "letters, digits"),
        ("bearer    \n", 0o600, "starts or ends with a space"),
        ("password hunter2\n", 0o600, "'basic USER:PASSWORD' or 'bearer TOKEN'"),
        ("# nobody\n", 0o600, "name nobody"),
        (CREDENTIALS, 0o644, "may be read by others"),
    ],
)
def test_credentials_files_that_are_refused(
    tmp_path: Path, content: str, mode: int, error: str
) -> None:
    file = tmp_path / "credentials"
    file.write_text(content)
    file.chmod(mode)
    with pytest.raises(ServeConfigError, match=error):
        load_ndes_admin_credentials(file)


def test_what_the_credentials_file_may_be_and_what_it_may_not(tmp_path: Path) -> None:
    file = tmp_path / "credentials"
    file.write_bytes(b"\xef\xbb\xbf" + CREDENTIALS.encode())  # a byte-order mark is fine
    file.chmod(0o600)
    credentials = load_ndes_admin_credentials(file)
    assert credentials.admit(BASIC)
    assert "horse" not in repr(credentials)  # digests only, and never shown
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)  # never waited on
    with pytest.raises(ServeConfigError, match="not a regular file"):
        load_ndes_admin_credentials(fifo)
    if os.geteuid() == 0:
        os.chown(file, 65534, 65534)
        with pytest.raises(ServeConfigError, match="belongs to another user"):
            load_ndes_admin_credentials(file)


def test_the_page_needs_one_time_challenges_of_an_hour_or_more(tmp_path: Path) -> None:
    file = tmp_path / "credentials"
    file.write_text(CREDENTIALS)
    file.chmod(0o600)
    options = ServeOptions(tmp_path, challenge="s3cret-challenge", ndes_admin_credentials=file)
    with pytest.raises(ServeConfigError, match="one-time"):
        check_options(options)
    short = ServeOptions(
        tmp_path, challenge_mode="one-time", ndes_admin_credentials=file, ndes_admin_ttl=600
    )
    with pytest.raises(ServeConfigError, match="at least 3600 seconds"):
        check_options(short)


# --- over real TLS, from gunicorn ----------------------------------------------------


@pytest.mark.external
def test_a_connector_fetches_a_password_over_tls_from_gunicorn_and_enrolls(
    tmp_path: Path,
) -> None:
    ca_file, certificate, key = tls_files(tmp_path)
    credentials = tmp_path / "mscep_admin.credentials"
    credentials.write_text(CREDENTIALS)
    credentials.chmod(0o600)
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYSCEP_")},
        "PYSCEP_STATE_DIR": str(tmp_path / "state"),
        "PYSCEP_CHALLENGE_MODE": "one-time",
        "PYSCEP_NDES_ADMIN_CREDENTIALS": str(credentials),
    }
    log = tmp_path / "gunicorn.log"
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "--workers", "2", "--bind",
         f"127.0.0.1:{port}", "--certfile", str(certificate), "--keyfile", str(key),
         "pyscep.server:wsgi_from_environment()"],
        env=environment, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )  # fmt: skip
    context = ssl.create_default_context(cafile=str(ca_file))
    base = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(  # noqa: S310 - loopback
                    f"{base}/certsrv/mscep/mscep.dll?operation=GetCACaps", context=context
                ).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        # As PowerShell's Invoke-WebRequest -Credential does: ask, be challenged, answer.
        request = urllib.request.Request(f"{base}/certsrv/mscep_admin/")  # noqa: S310
        with pytest.raises(urllib.error.HTTPError) as challenged:
            urllib.request.urlopen(request, context=context)  # noqa: S310
        assert challenged.value.code == 401
        assert challenged.value.headers["WWW-Authenticate"].startswith("Basic ")
        request.add_header("Authorization", BASIC)
        with urllib.request.urlopen(request, context=context) as answer:  # noqa: S310
            body, content_type = answer.read(), answer.headers["Content-Type"]
        password = fleet(body, content_type)
        assert password is not None
        assert psndesenrollment(body) == zentral(body) == password
        server_ca = pyscep.Certificate.load((tmp_path / "state" / "ca.pem").read_bytes())
        now = current_time()
        device = pyscep.load_private_key(make_identity("device", now=now).key_der)
        signer = self_signed_signer(device, "CN=router-9", now=now)
        csr = build_csr(device, "CN=router-9", challenge_password=password)
        built = build_pkcs_req(csr, signer=signer, recipient=server_ca)
        post = urllib.request.Request(  # noqa: S310 - loopback
            f"{base}/certsrv/mscep/mscep.dll?operation=PKIOperation",
            data=built.der,
            headers={"Content-Type": "application/x-pki-message"},
        )
        with urllib.request.urlopen(post, context=context) as answer:  # noqa: S310
            reply, _ = open_cert_rep(
                answer.read(), signer, ca_certificates=[server_ca], request=built
            )
        assert reply.pki_status is PKIStatus.SUCCESS
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

"""Run one interop scenario against real peers; meant to run under ``unshare -n``.

Usage: python -m tests.peers.netns_run SCENARIO WORKDIR

The scenario brings up loopback in the fresh network namespace (so servers
listening on every interface are reachable only from here), runs the peers,
and writes WORKDIR/result.json plus the certificates it obtained. The
assertions live in tests/test_peers.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pyscep import LEGACY, Certificate, MessageType, load_decrypter, load_signer
from pyscep.cms.degenerate import CertsOnly
from pyscep.messages.build import build_pkcs_req
from pyscep.messages.ca import parse_ca_certificates
from pyscep.messages.caps import CACaps, negotiate
from pyscep.messages.pkimessage import decrypt_pki_message, parse_pki_message, verify_cert_rep
from pyscep.testing import make_identity
from tests.peers.fleet import two_hosts_sigkill
from tests.support.helpers import make_csr, pem_cert, pem_key
from tests.support.postgres import start_postgres

PORT = 18080
URL = f"http://127.0.0.1:{PORT}/scep"
CHALLENGE = "pyscep-peer-secret"


def _http(url: str, body: bytes | None = None) -> bytes:
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET")  # noqa: S310
    if body is not None:
        request.add_header("Content-Type", "application/octet-stream")
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 - loopback only
        return bytes(response.read())


def _wait_for_server() -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            _http(f"{URL}?operation=GetCACaps")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _micromdm(work: Path) -> subprocess.Popen[bytes]:
    """micromdm's scepserver with a fresh CA in WORK/depot; returns once it answers."""
    depot = work / "depot"
    subprocess.run(
        [
            "scepserver",
            "ca",
            "-init",
            "-depot",
            str(depot),
            "-keySize",
            "2048",
            "-organization",
            "pyscep peers",
            "-country",
            "DE",
        ],
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [
            "scepserver",
            "-depot",
            str(depot),
            "-port",
            str(PORT),
            "-challenge",
            CHALLENGE,
            "-allowrenew",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(work / "scepserver.log").open("wb"),
    )
    _wait_for_server()
    return server


def micromdm_server(work: Path) -> dict[str, Any]:
    """pyscep's message layer as the client, micromdm's scepserver as the server."""
    server = _micromdm(work)
    try:
        caps = CACaps.parse(_http(f"{URL}?operation=GetCACaps"))
        now = datetime.now(timezone.utc)
        ca = parse_ca_certificates(_http(f"{URL}?operation=GetCACert"), now=now)
        chosen = negotiate(caps)
        first = make_identity("pyscep-mm-client", now=now)
        results: dict[str, Any] = {"caps": list(caps.keywords)}

        def enroll(
            kind: MessageType, csr_key: Any, signer_key: bytes, signer_cert: Certificate, name: str
        ) -> Certificate:
            csr = make_csr(csr_key, "pyscep-mm-client", CHALLENGE)
            built = build_pkcs_req(
                csr,
                signer=load_signer(signer_key, signer_cert),
                recipient=ca.encryption,
                message_type=kind,
                options=chosen.options,
            )
            reply = verify_cert_rep(
                parse_pki_message(_http(f"{URL}?operation=PKIOperation", built.der)),
                ca_certificates=ca.verification,
                request=built,
                algorithms=LEGACY,
            )
            content = decrypt_pki_message(reply, load_decrypter(signer_key, signer_cert))
            assert isinstance(content, CertsOnly)
            issued = content.certificates[0]
            results[name] = {
                "status": reply.pki_status.name if reply.pki_status is not None else None,
                "cipher": chosen.cipher.value,
                "digest": chosen.digest.value,
                "reply_cipher": reply.envelope.cipher_name if reply.envelope else None,
                "findings": [str(f) for f in reply.findings],
            }
            (work / f"{name}.pem").write_bytes(pem_cert(issued))
            return issued

        issued = enroll(MessageType.PKCS_REQ, first, first.key_der, first.certificate, "pkcsreq")
        second = make_identity("pyscep-mm-client", now=now)
        enroll(MessageType.RENEWAL_REQ, second, first.key_der, issued, "renewalreq")
        (work / "second.key").write_bytes(pem_key(second))
        (work / "ca.pem").write_bytes(pem_cert(ca.ca))
        return results
    finally:
        _stop(server)


def _serve(work: Path, *flags: str) -> subprocess.Popen[bytes]:
    """``pyscep serve`` itself, on a fresh state directory; returns once it is ready."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyscep",
            "serve",
            "--state-dir",
            str(work / "state"),
            # One-time challenges come from `serve challenge`: no shared one then.
            *(() if "one-time" in flags else ("--challenge", CHALLENGE)),
            "--port",
            str(PORT),
            "--log",
            str(work / "requests.log"),
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=(work / "serve.log").open("wb"),
    )
    assert server.stdout is not None
    ready = server.stdout.readline().decode()
    if "ready" not in ready:
        raise RuntimeError(f"pyscep serve did not start: {ready!r}")
    for name in ("ca", "ra"):
        pem = work / "state" / f"{name}.pem"
        if pem.exists():
            (work / f"{name}.pem").write_bytes(pem.read_bytes())
            (work / f"{name}.der").write_bytes(Certificate.load(pem.read_bytes()).der)
    return server


def _requests(work: Path) -> list[str]:
    """What pyscep serve decided: "TYPE digest cipher signature decision" per request
    (prefixed with "GET " for a request that came by GET)."""
    log = work / "requests.log"
    entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [
        ("GET " if e["method"] == "GET" else "")
        + f"{e['type']} {e['digest']} {e['cipher']} {e['signature']} {e['decision']}"
        for e in entries
        if "type" in e  # not what the responder answered by itself
    ]


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(10)


def _scepclient(work: Path, challenge: str, name: str) -> subprocess.CompletedProcess[bytes]:
    # scepclient keeps its CSR next to the key (csr.pem) and reuses it: one directory a run.
    directory = work / name
    directory.mkdir()
    run = subprocess.run(
        [
            "scepclient",
            "-server-url",
            URL,
            "-private-key",
            str(directory / "client.key"),
            "-certificate",
            str(directory / "client.pem"),
            "-challenge",
            challenge,
            "-cn",
            f"mm-{name}",
            "-organization",
            "pyscep",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    for suffix in ("key", "pem"):
        issued = directory / f"client.{suffix}"
        if issued.exists():
            (work / f"{name}.{suffix}").write_bytes(issued.read_bytes())
    return run


def micromdm_client(work: Path) -> dict[str, Any]:
    """micromdm's scepclient against pyscep serve: the right challenge, then a wrong one."""
    server = _serve(work, "--legacy")  # scepclient sends single DES and SHA-1
    try:
        right = _scepclient(work, CHALLENGE, "client")
        wrong = _scepclient(work, "not-the-challenge", "wrong")
    finally:
        _stop(server)
    return {
        "exit": right.returncode,
        "stderr": right.stderr.decode()[-2000:],
        "wrong_exit": wrong.returncode,
        "wrong_stderr": wrong.stderr.decode()[-2000:],
        "log": _requests(work),
    }


def _pki_scep(
    work: Path, name: str, extra: list[str], *, certs: str = "ca", password: str = CHALLENGE
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            "pki",
            "--scep",
            "--url",
            URL,
            "--dn",
            f"CN={name}, O=pyscep",
            "--password",
            password,
            "--cacert-enc",
            str(work / f"{certs}.der"),
            "--cacert-sig",
            str(work / f"{certs}.der"),
            "--outform",
            "pem",
            *extra,
        ],
        capture_output=True,
        timeout=90,
        check=False,
    )


def _key(work: Path, name: str) -> Path:
    path = work / f"{name}.key"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(path), "2048"], check=True, capture_output=True
    )
    return path


def strongswan(work: Path) -> dict[str, Any]:
    """strongSwan's pki --scep against pyscep serve: PKCS#1, PSS, renewal."""
    server = _serve(work)
    results: dict[str, Any] = {}
    try:
        variants: dict[str, list[str]] = {
            "aes-sha256": ["--cipher", "aes", "--digest", "sha256"],
            "des3-sha512-pss": ["--cipher", "des3", "--digest", "sha512", "--rsa-padding", "pss"],
        }
        for name, options in variants.items():
            key = _key(work, name)
            run = _pki_scep(work, name, ["--in", str(key), *options])
            (work / f"{name}.pem").write_bytes(run.stdout)
            results[name] = {"exit": run.returncode, "stderr": run.stderr.decode()[-1500:]}
        renewed_key = _key(work, "renewed")
        run = _pki_scep(
            work,
            "aes-sha256",
            [
                "--in",
                str(renewed_key),
                "--cert",
                str(work / "aes-sha256.pem"),
                "--key",
                str(work / "aes-sha256.key"),
            ],
        )
        (work / "renewed.pem").write_bytes(run.stdout)
        results["renewal"] = {"exit": run.returncode, "stderr": run.stderr.decode()[-1500:]}
    finally:
        _stop(server)
    results["log"] = _requests(work)
    return results


def strongswan_hsm(work: Path) -> dict[str, Any]:
    """strongSwan's pki --scep enrolls and renews against pyscep serve whose CA key was made
    in a SoftHSM2 token and never left it (--ca-key pkcs11:...)."""
    from tests.support.softhsm import make_token, token_ca

    token = make_token(work / "softhsm")
    os.environ["SOFTHSM2_CONF"] = str(token.conf)  # before this process loads the module
    _, certificate = token_ca(
        token, "scep-ca", "CN=pyscep token CA,O=pyscep", now=datetime.now(timezone.utc)
    )
    (work / "ca.pem").write_bytes(pem_cert(certificate))
    (work / "ca.der").write_bytes(certificate.der)
    server = _serve(work, "--ca-cert", str(work / "ca.pem"), "--ca-key", token.uri("scep-ca"))
    results: dict[str, Any] = {}
    try:
        key = _key(work, "hsm-client")
        run = _pki_scep(work, "hsm-client", ["--in", str(key), "--cipher", "aes"])
        (work / "hsm-client.pem").write_bytes(run.stdout)
        results["enroll"] = {"exit": run.returncode, "stderr": run.stderr.decode()[-1500:]}
        renewed_key = _key(work, "hsm-renewed")
        run = _pki_scep(
            work,
            "hsm-client",
            ["--in", str(renewed_key), "--cert", str(work / "hsm-client.pem"),
             "--key", str(key), "--cipher", "aes"],
        )  # fmt: skip
        (work / "hsm-renewed.pem").write_bytes(run.stdout)
        results["renewal"] = {"exit": run.returncode, "stderr": run.stderr.decode()[-1500:]}
    finally:
        _stop(server)
    results["log"] = _requests(work)
    results["state_files"] = sorted(path.name for path in (work / "state").iterdir())
    return results


def strongswan_pending(work: Path) -> dict[str, Any]:
    """strongSwan polls with CertPoll after a PENDING answer."""
    server = _serve(work, "--pending-polls", "1")
    try:
        key = _key(work, "polled")
        run = _pki_scep(
            work, "polled", ["--in", str(key), "--interval", "1", "--maxpolltime", "30"]
        )
        (work / "polled.pem").write_bytes(run.stdout)
    finally:
        _stop(server)
    return {"exit": run.returncode, "stderr": run.stderr.decode()[-1500:], "log": _requests(work)}


def strongswan_ra(work: Path) -> dict[str, Any]:
    """strongSwan fetches the CA and RA certificates (pki --scepca), then enrolls through
    the RA (its request is encrypted to the RA, the reply is signed by the RA)."""
    server = _serve(work, "--ra")
    try:
        fetched = subprocess.run(
            [
                "pki",
                "--scepca",
                "--url",
                URL,
                "--caout",
                str(work / "fetched-ca.der"),
                "--raout",
                str(work / "fetched-ra.der"),
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        key = _key(work, "via-ra")
        run = _pki_scep(work, "via-ra", ["--in", str(key)], certs="ra")
        (work / "via-ra.pem").write_bytes(run.stdout)
    finally:
        _stop(server)
    return {
        "fetch_exit": fetched.returncode,
        "fetch_stderr": fetched.stderr.decode()[-1500:],
        "exit": run.returncode,
        "stderr": run.stderr.decode()[-1500:],
        "log": _requests(work),
    }


def micromdm_client_get(work: Path) -> dict[str, Any]:
    """micromdm's scepclient by GET: the cisco-ios profile advertises no POSTPKIOperation."""
    server = _serve(work, "--legacy", "--profile", "cisco-ios")
    try:
        run = _scepclient(work, CHALLENGE, "client")
    finally:
        _stop(server)
    return {"exit": run.returncode, "stderr": run.stderr.decode()[-2000:], "log": _requests(work)}


def _pyscep_client(work: Path, name: str, challenge: str, extra: list[str]) -> dict[str, Any]:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyscep",
            "client",
            "enroll",
            URL,
            "--profile",
            "micromdm",
            "--subject",
            f"CN=pyscep-{name}",
            "--challenge",
            challenge,
            "--key-out",
            str(work / f"{name}.key"),
            "--cert-out",
            str(work / f"{name}.pem"),
            *extra,
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    return {"exit": run.returncode, "stdout": run.stdout.decode(), "stderr": run.stderr.decode()}


def pyscep_client_micromdm(work: Path) -> dict[str, Any]:
    """`pyscep client enroll` against micromdm's scepserver: refused before sending without
    the legacy switch (micromdm answers in DES), issued with it, FAILURE for a wrong challenge."""
    server = _micromdm(work)
    try:
        results = {
            name: _pyscep_client(work, name, challenge, extra)
            for name, challenge, extra in (
                ("strict", CHALLENGE, []),
                ("legacy", CHALLENGE, ["--legacy"]),
                ("wrong", "not-the-challenge", ["--legacy"]),
            )
        }
    finally:
        _stop(server)
    (work / "ca.pem").write_bytes((work / "depot" / "ca.pem").read_bytes())
    return results


def _gunicorn(work: Path, workers: int) -> subprocess.Popen[bytes]:
    """pyscep serve's WSGI application under gunicorn, workers sharing one state directory."""
    environment = {
        **os.environ,
        "PYSCEP_STATE_DIR": str(work / "state"),
        "PYSCEP_CHALLENGE": CHALLENGE,
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{PORT}",
            "--timeout",
            "120",
            "pyscep.server:wsgi_from_environment()",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=(work / "gunicorn.log").open("wb"),
    )
    _wait_for_server()
    (work / "ca.pem").write_bytes((work / "state" / "ca.pem").read_bytes())
    return server


def _enroll_many(count: int, name: str) -> list[bytes]:
    """``count`` enrollments by one client (one caps and CA exchange, fresh keys)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from pyscep._appkit.http import http_exchange
    from pyscep.crypto import load_private_key
    from pyscep.messages import build_csr
    from pyscep.protocol.client import CertificateIssued, ScepClient

    client = ScepClient()
    client.receive(*http_exchange(URL, client.get_caps()), now=datetime.now(timezone.utc))
    client.receive(
        *http_exchange(URL, client.get_ca_certificates()), now=datetime.now(timezone.utc)
    )
    issued = []
    for index in range(count):
        key = load_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        csr = build_csr(key, f"CN={name}-{index}", challenge_password=CHALLENGE)
        request = client.enroll(csr, key, now=datetime.now(timezone.utc))
        event = client.receive(*http_exchange(URL, request), now=datetime.now(timezone.utc))
        if not isinstance(event, CertificateIssued):
            raise RuntimeError(f"{name}-{index}: {event}")
        issued.append(event.certificate.der)
    return issued


def _race_one_request(threads: int) -> dict[str, Any]:
    """One PKCSReq posted by ``threads`` clients at once (retries racing over the workers),
    then once more: what each got, and how many different certificates."""
    from concurrent.futures import ThreadPoolExecutor

    now = datetime.now(timezone.utc)
    ca = parse_ca_certificates(_http(f"{URL}?operation=GetCACert"), now=now)
    racer = make_identity("racer", now=now)
    built = build_pkcs_req(
        make_csr(racer, "racer", CHALLENGE),
        signer=load_signer(racer.key_der, racer.certificate),
        recipient=ca.encryption,
    )

    def post(_: object) -> bytes:
        return _http(f"{URL}?operation=PKIOperation", built.der)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        bodies = list(pool.map(post, range(threads)))
    bodies.append(post(None))
    statuses, certificates = [], set()
    for body in bodies:
        reply = verify_cert_rep(
            parse_pki_message(body), ca_certificates=ca.verification, request=built
        )
        assert reply.pki_status is not None
        statuses.append(reply.pki_status.name)
        if reply.pki_status.name == "SUCCESS":
            content = decrypt_pki_message(reply, load_decrypter(racer.key_der, racer.certificate))
            assert isinstance(content, CertsOnly)
            certificates.add(content.certificates[0].der)
    return {
        "race_statuses": sorted(set(statuses[:-1])),
        "race_last": statuses[-1],
        "race_certificates": len(certificates),
    }


def gunicorn_load(work: Path) -> dict[str, Any]:
    """200 enrollments from 8 concurrent clients against 4 gunicorn workers, one state dir;
    then one request re-sent by 16 clients at once."""
    from concurrent.futures import ThreadPoolExecutor

    server = _gunicorn(work, workers=4)
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            batches = list(pool.map(lambda n: _enroll_many(25, f"load{n}"), range(8)))
        race = _race_one_request(16)
    finally:
        _stop(server)
    certificates = [der for batch in batches for der in batch]
    for index, der in enumerate(certificates):
        (work / f"load-{index}.pem").write_bytes(pem_cert(Certificate.load(der)))
    result = {
        "count": len(certificates),
        "distinct": len(set(certificates)),
        "serials": len({Certificate.load(der).serial_number for der in certificates}),
        "seconds": round(time.monotonic() - started, 1),
        **race,
    }
    if "PYSCEP_STATE_URL" not in os.environ:
        import sqlite3
        from contextlib import closing

        with closing(sqlite3.connect(work / "state" / "state.sqlite")) as db:
            row = db.execute("SELECT count(*), count(DISTINCT serial) FROM serials").fetchone()
            result["stored_serials"] = [int(row[0]), int(row[1])]
            issued = db.execute("SELECT count(*) FROM transactions WHERE state = 'issued'")
            result["stored_issued"] = int(issued.fetchone()[0])
    return result


def uvicorn_asgi(work: Path) -> dict[str, Any]:
    """The ASGI application under uvicorn: micromdm's scepclient and pyscep's client enroll."""
    environment = {
        **os.environ,
        "PYSCEP_STATE_DIR": str(work / "state"),
        "PYSCEP_CHALLENGE": CHALLENGE,
        "PYSCEP_LEGACY": "1",  # scepclient sends single DES
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("uvicorn")),
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(PORT),
            "pyscep.server:asgi_from_environment",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=(work / "uvicorn.log").open("wb"),
    )
    try:
        _wait_for_server()
        (work / "ca.pem").write_bytes((work / "state" / "ca.pem").read_bytes())
        micromdm = _scepclient(work, CHALLENGE, "client")
        ours = _enroll_many(3, "asgi")
    finally:
        _stop(server)
    for index, der in enumerate(ours):
        (work / f"asgi-{index}.pem").write_bytes(pem_cert(Certificate.load(der)))
    return {
        "exit": micromdm.returncode,
        "stderr": micromdm.stderr.decode()[-1500:],
        "ours": len(ours),
    }


def _getcert(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["getcert", *arguments], env=environment, capture_output=True, timeout=120, check=False
    )


def certmonger(work: Path) -> dict[str, Any]:
    """certmonger (daemon and its scep-submit helper) enrolls against pyscep serve (RA mode),
    then is refused for a wrong challenge. Its state lives in WORK, on a private D-Bus."""
    server = _serve(work, "--ra")
    state = work / "certmonger"
    environment = dict(os.environ)
    for variable in ("REQUESTS", "CAS", "LOCAL_CA", "CONFIG"):
        directory = state / variable.lower()
        directory.mkdir(parents=True)
        environment[f"CERTMONGER_{variable}_DIR"] = str(directory)
    environment["CERTMONGER_TMPDIR"] = str(state)
    # The session daemon's lock lives under HOME: a private one per run.
    environment["HOME"] = str(state)
    bus = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
        capture_output=True,
        check=True,
    )
    address, bus_pid = bus.stdout.decode().split()
    environment["DBUS_SESSION_BUS_ADDRESS"] = address
    daemon = subprocess.Popen(
        ["certmonger", "-s", "-n", "-d", "2"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=(work / "certmonger.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 30
        while _getcert(environment, "list-cas", "-s").returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("certmonger did not come up")
            time.sleep(0.3)
        added = _getcert(environment, "add-scep-ca", "-s", "-c", "pyscep", "-u", URL)
        results: dict[str, Any] = {"add_ca": added.returncode}
        for name, challenge in (("cm-client", CHALLENGE), ("cm-wrong", "not-the-challenge")):
            _getcert(
                environment,
                "request",
                "-s",
                "-c",
                "pyscep",
                "-k",
                str(work / f"{name}.key"),
                "-f",
                str(work / f"{name}.pem"),
                "-L",
                challenge,
                "-N",
                f"CN={name}",
                "-w",
                "-v",
            )
            listed = _getcert(environment, "list", "-s", "-f", str(work / f"{name}.pem"))
            status = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in listed.stdout.decode().splitlines()
                    if line.strip().startswith("status:")
                ),
                None,
            )
            results[name] = {"status": status, "listing": listed.stdout.decode()[-1500:]}
    finally:
        daemon.terminate()
        daemon.wait(10)
        subprocess.run(["kill", bus_pid], check=False)
        _stop(server)
        # Helpers the bus may have activated on its own.
        subprocess.run(["pkill", "-f", f"certmonger-session.*{state}"], check=False)
    results["log"] = _requests(work)
    return results


def gunicorn_load_postgres(work: Path) -> dict[str, Any]:
    """The same load as gunicorn-load, with the state in PostgreSQL."""
    url, stop_postgres = start_postgres()
    os.environ["PYSCEP_STATE_URL"] = url
    try:
        result = gunicorn_load(work)
        import psycopg

        with psycopg.connect(url) as db:
            row = db.execute("SELECT count(*), count(DISTINCT serial) FROM serials").fetchone()
            assert row is not None
            result["stored_serials"] = [int(row[0]), int(row[1])]
            issued = db.execute("SELECT count(*) FROM transactions WHERE state = 'issued'")
            result["stored_issued"] = int(issued.fetchone()[0])  # type: ignore[index]
    finally:
        del os.environ["PYSCEP_STATE_URL"]
        stop_postgres()
    return result


def _one_time_challenge(work: Path) -> str:
    """A fresh one-time challenge from ``pyscep serve challenge``."""
    made = subprocess.run(
        [sys.executable, "-m", "pyscep", "serve", "challenge", "--state-dir", str(work / "state")],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return made.stdout.decode().strip()


def one_time(work: Path) -> dict[str, Any]:
    """One-time challenges: micromdm's scepclient and strongSwan each enroll once with a
    challenge from `pyscep serve challenge`, and are refused when they use it again."""
    server = _serve(work, "--legacy", "--challenge-mode", "one-time")

    def challenge() -> str:
        return _one_time_challenge(work)

    try:
        micromdm = challenge()
        strongswan = challenge()
        runs = {
            "micromdm-first": _scepclient(work, micromdm, "first").returncode,
            "micromdm-again": _scepclient(work, micromdm, "again").returncode,
        }
        for name in ("sw-first", "sw-again"):
            run = subprocess.run(
                [
                    "pki",
                    "--scep",
                    "--url",
                    URL,
                    "--dn",
                    f"CN={name}, O=pyscep",
                    "--password",
                    strongswan,
                    "--cacert-enc",
                    str(work / "ca.der"),
                    "--cacert-sig",
                    str(work / "ca.der"),
                    "--outform",
                    "pem",
                    "--in",
                    str(_key(work, name)),
                ],
                capture_output=True,
                timeout=90,
                check=False,
            )
            (work / f"{name}.pem").write_bytes(run.stdout)
            runs[name] = run.returncode
    finally:
        _stop(server)
    return {"exits": runs, "log": _requests(work)}


def policy(work: Path) -> dict[str, Any]:
    """pyscep serve --policy with one-time challenges: micromdm's scepclient and strongSwan
    enroll once per challenge, strongSwan renews (auto-approved), a third certificate for
    the same DN is refused."""
    conf = work / "scep.conf"
    conf.write_text(
        'ScepAutoApprove "YES"\nScepAutoApproveEnrollment "YES"\nScepMaxValidCertificates "2"\n'
    )
    server = _serve(work, "--legacy", "--challenge-mode", "one-time", "--policy", str(conf))

    def challenge() -> str:
        return _one_time_challenge(work)

    def strongswan(name: str, password: str, *extra: str) -> int:
        run = _pki_scep(
            work, "sw-device", ["--in", str(_key(work, name)), *extra], password=password
        )
        (work / f"{name}.pem").write_bytes(run.stdout)
        return run.returncode

    try:
        micromdm = challenge()
        exits = {
            "mm-first": _scepclient(work, micromdm, "mm-first").returncode,
            "mm-replay": _scepclient(work, micromdm, "mm-replay").returncode,
        }
        exits["sw-first"] = strongswan("sw-first", challenge())
        renew = ["--cert", str(work / "sw-first.pem"), "--key", str(work / "sw-first.key")]
        exits["sw-renew"] = strongswan("sw-renew", "", *renew)
        exits["sw-third"] = strongswan("sw-third", challenge())
    finally:
        _stop(server)
    log = [json.loads(line) for line in (work / "requests.log").read_text().splitlines()]
    decisions = [
        f"{e['policy']['decision']} {e['policy']['trace'][-1]['rule']}"
        for e in log
        if "policy" in e
    ]
    return {"exits": exits, "decisions": decisions}


def _strongswan_pki(*arguments: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["pki", *arguments], capture_output=True, timeout=90, check=False)


def forged_renewals(work: Path) -> dict[str, Any]:
    """strongSwan renews with certificates that prove no right to a certificate: one
    self-signed on the spot, one from a foreign CA bearing this CA's name, one of ours
    asking for another subject. Only the honest enrollment and renewal may be issued."""
    server = _serve(work)
    exits: dict[str, int] = {}

    def scep(name: str, dn: str, password: str, *extra: str, key: Path | None = None) -> int:
        run = _strongswan_pki(
            "--scep", "--url", URL, "--dn", dn, "--password", password,
            "--cacert-enc", str(work / "ca.der"), "--cacert-sig", str(work / "ca.der"),
            "--in", str(key or _key(work, f"{name}-new")), "--outform", "pem", *extra,
        )  # fmt: skip
        (work / f"{name}.pem").write_bytes(run.stdout)
        return run.returncode

    def signed_with(certificate: str, key: str) -> list[str]:
        return ["--cert", str(work / certificate), "--key", str(work / key)]

    try:
        # 1. A certificate self-signed on the spot for the identity wanted, no challenge.
        forger = _key(work, "forger")
        forged = _strongswan_pki(
            "--self", "--in", str(forger), "--dn", "CN=admin, O=Victim Corp", "--outform", "pem"
        )
        (work / "forged-self.pem").write_bytes(forged.stdout)
        exits["self-signed"] = scep(
            "admin-1", "CN=admin, O=Victim Corp", "", *signed_with("forged-self.pem", "forger.key")
        )
        # ... and for its own key, so that the request reaches the application.
        exits["self-signed-own-key"] = scep(
            "admin-0", "CN=admin, O=Victim Corp", "",
            *signed_with("forged-self.pem", "forger.key"), key=forger,
        )  # fmt: skip
        # 2. A foreign CA with this CA's very name issues the signer.
        ca_key = _key(work, "foreign-ca")
        ca_dn = "O=pyscep serve, CN=pyscep serve CA"
        foreign = _strongswan_pki(
            "--self", "--ca", "--in", str(ca_key), "--dn", ca_dn, "--outform", "pem"
        )
        (work / "foreign-ca.pem").write_bytes(foreign.stdout)
        public = _strongswan_pki("--pub", "--in", str(forger))
        issued = subprocess.run(
            ["pki", "--issue", "--cacert", str(work / "foreign-ca.pem"), "--cakey", str(ca_key),
             "--type", "pub", "--dn", "CN=admin, O=Victim Corp", "--outform", "pem"],
            input=public.stdout, capture_output=True, timeout=90, check=False,
        )  # fmt: skip
        (work / "foreign-signer.pem").write_bytes(issued.stdout)
        exits["foreign-ca"] = scep(
            "admin-2", "CN=admin, O=Victim Corp", "",
            *signed_with("foreign-signer.pem", "forger.key"),
        )  # fmt: skip
        # 3. An honest enrollment, then its certificate asks to become someone else.
        exits["printer-enroll"] = scep("printer", "CN=printer-7, O=pyscep", CHALLENGE)
        exits["subject-change"] = scep(
            "admin-3", "CN=admin, O=pyscep", "", *signed_with("printer.pem", "printer-new.key")
        )
        # 4. The honest renewal.
        exits["renewal"] = scep(
            "printer-2", "CN=printer-7, O=pyscep", "",
            *signed_with("printer.pem", "printer-new.key"),
        )  # fmt: skip
    finally:
        _stop(server)
    entries = [json.loads(line) for line in (work / "requests.log").read_text().splitlines()]
    # Why each pkiMessage was refused or issued: the application's reason, or the
    # responder's own (a refusal before the application is asked).
    reasons = [entry.get("reason") or entry.get("answered", "") for entry in entries]
    return {"exits": exits, "log": _requests(work), "reasons": reasons}


SCENARIOS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "forged-renewals": forged_renewals,
    "micromdm-server": micromdm_server,
    "micromdm-client": micromdm_client,
    "strongswan": strongswan,
    "strongswan-pending": strongswan_pending,
    "strongswan-hsm": strongswan_hsm,
    "strongswan-ra": strongswan_ra,
    "micromdm-client-get": micromdm_client_get,
    "gunicorn-load": gunicorn_load,
    "gunicorn-load-postgres": gunicorn_load_postgres,
    "two-hosts-sigkill": two_hosts_sigkill,
    "uvicorn-asgi": uvicorn_asgi,
    "certmonger": certmonger,
    "one-time": one_time,
    "policy": policy,
    "pyscep-client-micromdm": pyscep_client_micromdm,
}


def main() -> None:
    scenario, work = sys.argv[1], Path(sys.argv[2])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    result = SCENARIOS[scenario](work)
    (work / "result.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

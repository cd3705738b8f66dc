"""Run one interop scenario against real peers; meant to run under ``unshare -n``.

Usage: python -m tests.peers.netns_run SCENARIO WORKDIR

The scenario brings up loopback in the fresh network namespace (so servers
listening on every interface are reachable only from here), runs the peers,
and writes WORKDIR/result.json plus the certificates it obtained. The
assertions live in tests/test_peers.py.
"""

from __future__ import annotations

import json
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
from tests.helpers import make_csr, pem_cert, pem_key
from tests.peers.scep_server import ScepTestServer

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


def micromdm_server(work: Path) -> dict[str, Any]:
    """pyscep as the client, micromdm's scepserver as the server."""
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
    try:
        _wait_for_server()
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
        server.terminate()
        server.wait(10)


def _our_server(work: Path, *, pending_first: bool = False) -> ScepTestServer:
    ca = make_identity("pyscep peer CA", now=datetime.now(timezone.utc), ca=True)
    (work / "ca.pem").write_bytes(pem_cert(ca.certificate))
    (work / "ca.der").write_bytes(ca.certificate.der)
    server = ScepTestServer(ca, CHALLENGE, pending_first=pending_first)
    server.serve(PORT)
    _wait_for_server()
    return server


def micromdm_client(work: Path) -> dict[str, Any]:
    """micromdm's scepclient against pyscep's test server."""
    server = _our_server(work)
    run = subprocess.run(
        [
            "scepclient",
            "-server-url",
            URL,
            "-private-key",
            str(work / "client.key"),
            "-certificate",
            str(work / "client.pem"),
            "-challenge",
            CHALLENGE,
            "-cn",
            "mm-client",
            "-organization",
            "pyscep",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return {"exit": run.returncode, "stderr": run.stderr.decode()[-2000:], "log": server.log}


def _pki_scep(work: Path, name: str, extra: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            "pki",
            "--scep",
            "--url",
            URL,
            "--dn",
            f"CN={name}, O=pyscep",
            "--password",
            CHALLENGE,
            "--cacert-enc",
            str(work / "ca.der"),
            "--cacert-sig",
            str(work / "ca.der"),
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
    """strongSwan's pki --scep against pyscep's test server: PKCS#1, PSS, renewal."""
    server = _our_server(work)
    results: dict[str, Any] = {}
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
    results["log"] = server.log
    return results


def strongswan_pending(work: Path) -> dict[str, Any]:
    """strongSwan polls with CertPoll after a PENDING answer."""
    server = _our_server(work, pending_first=True)
    key = _key(work, "polled")
    run = _pki_scep(work, "polled", ["--in", str(key), "--interval", "1", "--maxpolltime", "30"])
    (work / "polled.pem").write_bytes(run.stdout)
    return {"exit": run.returncode, "stderr": run.stderr.decode()[-1500:], "log": server.log}


SCENARIOS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "micromdm-server": micromdm_server,
    "micromdm-client": micromdm_client,
    "strongswan": strongswan,
    "strongswan-pending": strongswan_pending,
}


def main() -> None:
    scenario, work = sys.argv[1], Path(sys.argv[2])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    result = SCENARIOS[scenario](work)
    (work / "result.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""certmonger as a client under test: ``python -m pyscep.conformance.certmonger URL CHALLENGE DIR``.

certmonger is a daemon driven over D-Bus, not a one-shot command. This runs a
private one in DIR: its own session bus (no service directories, so nothing
is activated behind its back), ``certmonger -s -n`` with its state in DIR,
then ``getcert add-scep-ca`` for URL (with the CA certificate certmonger's
``scep-submit -C`` fetched) and ``getcert request -w`` for a key and
certificate in DIR. The daemon does the SCEP exchange itself (its
``scep-submit`` helper fetches GetCACaps and GetCACert, sends the PKCSReq,
checks the CertRep; the daemon opens the envelope and stores the
certificate). Exit 0 when certmonger took a certificate (status MONITORING
and DIR/client.pem written), 1 otherwise; the last line printed is
certmonger's status and its ca-error. Every process started stays in this
one's process group, so a runner that stops the group stops them all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from pyscep._appkit.durable import SafeDirectory

__all__ = ["main"]

#: A session bus for certmonger alone: no <servicedir>, no activation.
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
#: certmonger's SCEP helper: /usr/lib on Debian, /usr/libexec on Fedora.
_SCEP_SUBMIT = next(
    (
        helper
        for helper in ("/usr/lib/certmonger/scep-submit", "/usr/libexec/certmonger/scep-submit")
        if Path(helper).exists()
    ),
    "scep-submit",
)
_CA_NAME = "pyscep-conformance"
_SUBJECT = "CN=pyscep-conformance-client"


def _getcert(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["getcert", *arguments], env=environment, capture_output=True, text=True, check=False
    )


def _listed(environment: dict[str, str], certificate: Path) -> dict[str, str]:
    """``getcert list`` of the request: its ``name: value`` lines."""
    listing = _getcert(environment, "list", "-s", "-f", str(certificate)).stdout
    fields = {}
    for line in listing.splitlines():
        name, colon, value = line.strip().partition(":")
        if colon and name not in fields:
            fields[name] = value.strip()
    return fields


def _environment(directory: Path) -> dict[str, str]:
    """certmonger's state, lock (under HOME) and temporary files, all in ``directory``."""
    state = directory / "certmonger"
    environment = dict(os.environ)
    for variable in ("REQUESTS", "CAS", "LOCAL_CA", "CONFIG"):
        where = state / variable.lower()
        where.mkdir(parents=True, exist_ok=True)
        environment[f"CERTMONGER_{variable}_DIR"] = str(where)
    environment["CERTMONGER_TMPDIR"] = str(state)
    environment["HOME"] = str(state)
    return environment


def run(url: str, challenge: str, directory: Path) -> int:
    """Enroll with certmonger at ``url``; 0 when it took a certificate."""
    environment = _environment(directory)
    state = directory / "certmonger"
    # Every file this writes is new: created exclusively, never through a link.
    with SafeDirectory(state) as where:
        where.create("bus.conf", _BUS_CONFIG.format(socket=state / "bus").encode(), mode=0o600)
    # --nofork: the bus stays a child, in the process group.
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={state / 'bus.conf'}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert bus.stdout is not None
    environment["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
    with SafeDirectory(directory) as where, where.open_new("certmonger.log", mode=0o600) as log:
        daemon = subprocess.Popen(
            ["certmonger", "-s", "-n", "-d", "2"],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 20
        while _getcert(environment, "list-cas", "-s").returncode != 0:
            if time.monotonic() > deadline:
                print("certmonger did not come up")
                return 1
            time.sleep(0.1)
        # GetCACert by certmonger's own helper, its answer handed back as the signing CA
        # (-N), as an operator does: from a GetCACert of one certificate, certmonger keeps it
        # as the RA's only, and then verifies every CertRep against no trust anchor at all.
        fetched = subprocess.run(
            [_SCEP_SUBMIT, "-u", url, "-C"], capture_output=True, text=True, check=False
        )
        if fetched.returncode != 0:
            print(f"scep-submit -C: exit {fetched.returncode}: {fetched.stderr.strip()}")
            return 1
        ca = directory / "ca.pem"
        with SafeDirectory(directory) as where:
            where.create(ca.name, fetched.stdout.encode(), mode=0o644)
        added = _getcert(environment, "add-scep-ca", "-s", "-c", _CA_NAME, "-u", url, "-N", str(ca))
        if added.returncode != 0:
            print(f"getcert add-scep-ca: {(added.stderr or added.stdout).strip()}")
            return 1
        certificate = directory / "client.pem"
        _getcert(
            environment,
            "request",
            "-s",
            "-c",
            _CA_NAME,
            "-k",
            str(directory / "client.key"),
            "-f",
            str(certificate),
            "-L",
            challenge,
            "-N",
            _SUBJECT,
            "-w",
        )
        fields = _listed(environment, certificate)
        status = fields.get("status", "(no request)")
        print(f"status: {status}; ca-error: {fields.get('ca-error', '(none)')}")
        return 0 if status == "MONITORING" and certificate.exists() else 1
    finally:
        daemon.terminate()
        daemon.wait(10)
        bus.terminate()
        bus.wait(10)


def main(argv: list[str] | None = None) -> int:
    """``URL CHALLENGE DIR`` -> the exit status."""
    url, challenge, directory = argv if argv is not None else sys.argv[1:]
    try:
        return run(url, challenge, Path(directory))
    except FileNotFoundError as exc:  # certmonger (or D-Bus) is not installed
        print(f"not found: {exc.filename}")
        return 127


if __name__ == "__main__":
    sys.exit(main())

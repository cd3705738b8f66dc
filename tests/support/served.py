"""``pyscep serve`` as a process on loopback, for the tests that enroll against it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from pyscep import Certificate

CHALLENGE = "serve-secret"


def run_pyscep(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``python -m pyscep ARGUMENTS``, its output captured as text (not checked)."""
    return subprocess.run(
        [sys.executable, "-m", "pyscep", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    """``pyscep serve`` on a free port; ``{port}`` in a flag is that port."""

    def __init__(self, directory: Path, *flags: str) -> None:
        self.directory = directory
        self.flags = flags
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/scep"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pyscep",
                "serve",
                "--state-dir",
                str(directory / "state"),
                "--challenge",
                CHALLENGE,
                "--port",
                str(self.port),
                *(flag.replace("{port}", str(self.port)) for flag in flags),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        #: What the server printed when it was ready (its addresses).
        self.ready = self.process.stdout.readline().decode()
        assert "ready" in self.ready

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)

    def fingerprint(self) -> str:
        pem = (self.directory / "state" / "ca.pem").read_bytes()
        return Certificate.load(pem).sha256_fingerprint.hex()

"""``pyscep serve`` as a process on loopback, for the tests that enroll against it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from pyscep import Certificate

CHALLENGE = "serve-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
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
                *flags,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        assert "ready" in self.process.stdout.readline().decode()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)

    def fingerprint(self) -> str:
        pem = (self.directory / "state" / "ca.pem").read_bytes()
        return Certificate.load(pem).sha256_fingerprint.hex()

"""The suite and the calendar: where the clock is, and who may start a program.

`make test-clock-moved` runs the ``external`` tests with the clock moved by
libfaketime and says by how much in PYSCEP_CLOCK_SHIFT (seconds); elsewhere the
clock is the machine's. The kernel's boot time plus its uptime is the real time
whatever libfaketime does (it fakes time calls, not /proc).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509

from tests import conftest
from tests.support.helpers import current_time, openssl

SLACK = 120  # seconds between two readings of two clocks, on a loaded machine


def _real_time() -> float:
    stat = Path("/proc/stat").read_text().splitlines()
    boot = next(int(line.split()[1]) for line in stat if line.startswith("btime "))
    return boot + float(Path("/proc/uptime").read_text().split()[0])


def _shift() -> int:
    return int(os.environ.get("PYSCEP_CLOCK_SHIFT", "0"))


@pytest.mark.external
def test_the_tests_and_the_programs_they_run_read_the_same_moved_clock(tmp_path: Path) -> None:
    expected = _real_time() + _shift()
    assert abs(time.time() - expected) < SLACK
    assert abs(current_time().timestamp() - expected) < SLACK
    # openssl, started by the tests, stamps a new certificate with its clock.
    pem = openssl(
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(tmp_path / "key.pem"), "-subj", "/CN=clock", "-days", "1"]
    )  # fmt: skip
    stamped = x509.load_pem_x509_certificate(pem).not_valid_before_utc.timestamp()
    assert abs(stamped - expected) < SLACK
    # Sleeping works wherever the clock is (tests/clock_moved/sitecustomize.py).
    started = time.monotonic()
    time.sleep(0.05)
    assert time.monotonic() - started >= 0.05


def test_a_test_that_starts_a_program_unmarked_fails(request: pytest.FixtureRequest) -> None:
    with pytest.raises(RuntimeError, match="is not marked 'external'"):
        subprocess.run(["true"], check=False)
    # The failure is also recorded, for a test that would swallow the error: taken
    # back here, or this test would be reported failed.
    assert conftest._unmarked.pop(request.node.nodeid) == ["true"]

"""Session fixtures, and the ``external`` marker.

A test that starts a process (the openssl CLI, a peer, ``python -m pyscep``) is
marked ``external``: `make test-clock-moved` runs exactly those again with the
clock moved by libfaketime, which shows that nothing they hand to a program
depends on today's date. The marker cannot be forgotten silently: a test that
starts a process without it fails (the audit hook below).
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from types import FrameType
from typing import Any

import pytest

from pyscep import CryptoBackend, get_backend
from pyscep.testing import DemoIdentity
from tests.support.helpers import BACKENDS, NOW, make_ec_identity, make_identity

EXTERNAL = "external"

# Tests marked here rather than in their file: file name -> test function names
# (None: every test in the file). Their owners may move the marker into the file.
_MARKED_HERE: dict[str, frozenset[str] | None] = {
    # pyscep serve and client as processes; openssl verify; PKCS#12 through openssl.
    "test_cli_serve.py": None,
    "test_monitor_run.py": None,
    # demo --live serves in a process; the other chapters read the clock in-process.
    "test_demo.py": None,
    # The quickstart as a shell session; the examples read the clock in-process.
    "test_docs.py": None,
    "test_policy.py": frozenset({"test_policy_imports_nothing_from_the_message_layer"}),
}

# External tests that cannot run with the clock moved: libfaketime reaches a program
# through LD_PRELOAD and FAKETIME in its environment, and these peers escape it. make
# test-clock-moved leaves them out. "file::test function" -> the peer that escapes.
_REAL_CLOCK_ONLY = {
    # micromdm's scepserver is a statically linked Go binary: it reads the clock through
    # the vDSO, never through libc, and issues certificates at the real time, which the
    # moved openssl or pyscep client then judges expired or not yet valid.
    "test_peers.py::test_micromdm_server_accepts_pkcsreq_and_renewalreq": "micromdm scepserver",
    "test_peers.py::test_pyscep_client_against_micromdm_server": "micromdm scepserver",
    # certmonger starts its scep-submit helper with a cleared environment (clearenv):
    # the helper checks pyscep serve's signature against the real time.
    "test_peers.py::test_certmonger_enrolls_against_pyscep_serve_through_an_ra": "certmonger",
}

# Audit events that start another program (sys.audit, "Audit events table").
_PROCESS_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.spawn"}
)
_running: list[pytest.Item] = []
_unmarked: dict[str, list[str]] = {}


def _program(event: str, args: tuple[Any, ...]) -> str:
    argv = args[1] if event != "os.system" and len(args) > 1 else args[0]
    if isinstance(argv, (list, tuple)):
        argv = " ".join(str(part) for part in argv[:3])
    return str(argv)[:120]


def _finding_a_library() -> bool:
    """Is the program started by ctypes looking for a shared library (``ldconfig -p``,
    when the oscrypto backend loads libcrypto)? That reads no clock and hands over nothing."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.endswith(("ctypes/util.py", "ctypes\\util.py")):
            return True
        frame = frame.f_back
    return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in _PROCESS_EVENTS or not _running:
        return
    item = _running[-1]
    if item.get_closest_marker(EXTERNAL) is not None or _finding_a_library():
        return
    program = _program(event, args)
    _unmarked.setdefault(item.nodeid, []).append(program)
    raise RuntimeError(
        f"{item.nodeid} starts a program ({program}) but is not marked {EXTERNAL!r}: "
        "mark it (pytest.mark.external, or tests/conftest.py) so that "
        "make test-clock-moved runs it with the clock moved"
    )


def pytest_configure(config: pytest.Config) -> None:
    sys.addaudithook(_audit)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = _MARKED_HERE.get(item.path.name, frozenset())
        function = getattr(item, "originalname", item.name)
        if item.get_closest_marker("peer") is not None or names is None or function in names:
            item.add_marker(EXTERNAL)
        escapes = _REAL_CLOCK_ONLY.get(f"{item.path.name}::{function}")
        if escapes is not None:
            item.add_marker(pytest.mark.real_clock(escapes))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    _running.append(item)  # setup, call and teardown, fixtures included
    try:
        return (yield)
    finally:
        _running.pop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Fails the test even where it caught the error the audit hook raised."""
    report = yield
    started = _unmarked.pop(item.nodeid, None)
    if started and report.passed:
        report.outcome = "failed"
        report.longrepr = f"started {started} without the {EXTERNAL!r} marker"
    return report


@pytest.fixture(scope="session")
def ca() -> DemoIdentity:
    return make_identity("pyscep test CA", now=NOW, ca=True)


@pytest.fixture(scope="session")
def client(ca: DemoIdentity) -> DemoIdentity:
    return make_identity("test-client", now=NOW)


@pytest.fixture(scope="session")
def ec_client(ca: DemoIdentity) -> DemoIdentity:
    return make_ec_identity("ec-client", ca)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> CryptoBackend:
    return get_backend(request.param)

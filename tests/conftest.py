from __future__ import annotations

import pytest

from pyscep import CryptoBackend, get_backend
from pyscep.testing import DemoIdentity
from tests.helpers import BACKENDS, NOW, make_ec_identity, make_identity


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

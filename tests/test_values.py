"""Values that cannot disagree with their bytes.

Every public frozen dataclass of pyscep that holds the ``der`` it was read
from is found by walking the package (a new one is covered, or this test asks
for a sample of it). For each: ``replace(value, der=other)`` re-reads every
derived field from the new bytes, and no derived field can be replaced on its own.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from typing import Any

import pytest

import pyscep
from pyscep import messages as scep
from pyscep.policy import PublicKeyView
from pyscep.server.stores import PublishedCRL
from pyscep.testing import make_identity
from tests.support.helpers import current_time

NOW = current_time()
RSA = make_identity("values-rsa", now=NOW, ca=True)
EC = make_identity("values-ec", now=NOW, key_type="ec")


def _request(identity: Any, name: str) -> scep.BuiltRequest:
    csr = scep.build_csr(pyscep.load_private_key(identity.key_der), f"CN={name}")
    return scep.build_pkcs_req(csr, signer=identity.signer, recipient=RSA.certificate)


def _crl(identity: Any, number: int, days: int, listed: int) -> PublishedCRL:
    entries = [scep.RevokedCertificate(serial, NOW) for serial in range(1, listed + 1)]
    later = NOW + timedelta(days=days)
    return PublishedCRL(
        scep.build_crl(identity.signer, entries, number=number, this_update=NOW, next_update=later)
    )


def _csr(identity: Any, name: str, challenge: str) -> scep.CertificationRequest:
    key = pyscep.load_private_key(identity.key_der)
    return scep.build_csr(key, f"CN={name}", challenge_password=challenge)


#: Class -> two values of it read from different bytes (every derived field differs).
SAMPLES: dict[str, Callable[[], tuple[Any, Any]]] = {
    "pyscep.certificate.Certificate": lambda: (RSA.certificate, EC.certificate),
    "pyscep.public_key.PublicKey": lambda: (RSA.certificate.public_key, EC.certificate.public_key),
    "pyscep.policy.inputs.PublicKeyView": lambda: (
        PublicKeyView.from_der(RSA.certificate.public_key_der),
        PublicKeyView.from_der(EC.certificate.public_key_der),
    ),
    "pyscep.messages.content.CertificationRequest": lambda: (
        _csr(RSA, "values-rsa", "one"),
        _csr(EC, "values-ec", "two"),
    ),
    "pyscep.messages.build.BuiltRequest": lambda: (
        _request(RSA, "values-rsa"),
        _request(EC, "values-ec"),
    ),
    "pyscep.server.stores.contract.PublishedCRL": lambda: (
        _crl(RSA, 1, 7, 0),
        _crl(EC, 2, 3, 2),
    ),
}


def _public_modules() -> list[str]:
    names = ["pyscep"]
    for info in pkgutil.walk_packages(pyscep.__path__, "pyscep."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def _values_holding_der() -> dict[str, type]:
    found: dict[str, type] = {}
    for name in _public_modules():
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if (
                isinstance(value, type)
                and not attribute.startswith("_")
                and dataclasses.is_dataclass(value)
                and value.__dataclass_params__.frozen  # type: ignore[attr-defined]
                and any(f.name == "der" for f in dataclasses.fields(value))
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


VALUES = _values_holding_der()


def _derived(cls: type) -> list[str]:
    """Every public field but ``der``, and every public (cached) property."""
    fields = [f.name for f in dataclasses.fields(cls) if f.name != "der"]
    properties = [
        name
        for name, member in inspect.getmembers(cls)
        if isinstance(member, (property, cached_property))
    ]
    return [name for name in fields + properties if not name.startswith("_")]


def _read(value: Any, name: str) -> object:
    try:
        return getattr(value, name)
    except pyscep.ScepError as exc:  # a field absent from this kind of value
        return type(exc)


def test_the_walk_finds_the_values_and_every_one_has_a_sample() -> None:
    assert "pyscep.certificate.Certificate" in VALUES
    assert "pyscep.public_key.PublicKey" in VALUES
    assert sorted(VALUES) == sorted(SAMPLES)


def _cases() -> list[str]:
    return sorted(SAMPLES)


@pytest.mark.parametrize("name", _cases())
def test_replacing_the_bytes_rereads_every_field(name: str) -> None:
    first, second = SAMPLES[name]()
    derived = _derived(type(first))
    assert derived  # the value has something to derive
    assert [n for n in derived if _read(first, n) != _read(second, n)]  # the samples differ
    replaced = dataclasses.replace(first, der=second.der)
    assert {n: _read(replaced, n) for n in derived} == {n: _read(second, n) for n in derived}


@pytest.mark.parametrize("name", _cases())
def test_a_derived_field_cannot_be_replaced(name: str) -> None:
    first, second = SAMPLES[name]()
    replaceable = []
    for field_name in _derived(type(first)):
        try:
            dataclasses.replace(first, **{field_name: _read(second, field_name)})
        except (TypeError, ValueError):
            continue
        replaceable.append(field_name)
    assert replaceable == []


def test_a_certificate_made_from_bytes_reads_them_the_way_load_does() -> None:
    direct = pyscep.Certificate(EC.certificate.der)
    loaded = pyscep.Certificate.load(EC.certificate.der)
    assert (direct.serial_number, direct.subject) == (loaded.serial_number, loaded.subject)
    assert direct.subject_der == loaded.subject_der
    with pytest.raises(pyscep.ParseError):
        pyscep.Certificate(b"\x30\x03\x02\x01\x00").serial_number  # noqa: B018


def test_a_public_key_is_read_when_it_is_made() -> None:
    key = pyscep.PublicKey(RSA.certificate.public_key_der)
    assert (key.family, key.bits, key.public_exponent, key.curve) == ("rsa", 2048, 65537, None)
    with pytest.raises(pyscep.ParseError):
        pyscep.PublicKey(b"\x30\x00")

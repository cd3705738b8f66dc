"""RSA keys made once per test session and handed out in turn: a conformance run asks
for a fresh key per requester (a dozen or more), and making each one takes longer
than the run's messages.

`use_key_pool` makes `Probe.new_key` (every key of the server and client checks)
cycle through ``SIZE`` keys: two keys of one run are never the same one, and each
test's server is new, so a key seen in an earlier test does not matter.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from pyscep.conformance.probe import Probe
from pyscep.crypto import PrivateKey, load_private_key

#: More keys than one run asks for.
SIZE = 48
_KEYS: list[PrivateKey] = []


def _cycle() -> Iterator[PrivateKey]:
    if not _KEYS:
        _KEYS.extend(
            load_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
            for _ in range(SIZE)
        )
    return itertools.cycle(_KEYS)


def use_key_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """`Probe.new_key` hands out the pool's keys, in turn, for the rest of the test."""
    keys = _cycle()
    monkeypatch.setattr(Probe, "new_key", staticmethod(lambda: next(keys)))

"""Tools for people fuzzing and testing SCEP code (theirs or pyscep's).

- `fuzz_one_input(data)`: an atheris/libFuzzer-compatible entry point that
  routes bytes through every pyscep parser, and through verify and decrypt
  with fixed test keys; only pyscep errors pass silently.
- `pyscep.testing.strategies` (needs hypothesis): strategies generating valid
  messages of every type, and mutated variants.
- `fixed_keys()`: the public test CA, client and EC identity used by both.
- `make_identity(...)`: a fresh CA or device (key and certificate) for a
  test or an example; `DemoIdentity.issue` signs certificates as that CA.
- `in_memory_ca(challenge=..., now=...)`: a whole SCEP CA in memory and a
  transport into it, to run client code without a server.
- `SeededBackend`: a crypto backend whose randomness is reproducible, so a
  decryption outcome (RFC 3218 random-key fallback included) never depends on
  luck. Tests and fuzzing only.
"""

from __future__ import annotations

from pyscep.testing.ca import Transport, in_memory_ca
from pyscep.testing.fuzz import fuzz_one_input
from pyscep.testing.keys import FixedKeys, fixed_keys
from pyscep.testing.pki import DemoIdentity, make_identity
from pyscep.testing.seeded import SeededBackend

__all__ = [
    "DemoIdentity",
    "FixedKeys",
    "SeededBackend",
    "Transport",
    "fixed_keys",
    "fuzz_one_input",
    "in_memory_ca",
    "make_identity",
]

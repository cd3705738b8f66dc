"""asn1crypto's lookup tables, built at import, before any two threads can race on them.

asn1crypto sets a class up (its field, name and reverse maps) the first time
the class is used, without a lock: two threads using a class for the first
time at once can see a half-built table and refuse valid input (seen as
random ParseErrors on the first concurrent requests of a threaded server, and
under load in the tests). pyscep builds every table of the asn1crypto modules
it uses when it is imported, in the importing thread; `pyscep._asn1` does the
same for its own classes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from asn1crypto import algos, cms, core, crl, csr, keys, ocsp, x509

__all__ = ["set_up"]


def set_up(candidates: Iterable[object]) -> None:
    """Set up every asn1crypto class among ``candidates`` (instantiating one does it)."""
    for candidate in list(candidates):
        if isinstance(candidate, type) and issubclass(candidate, core.Asn1Value):
            # An abstract class refuses to be made: it has no tables of its own.
            with contextlib.suppress(Exception):
                candidate()


for _module in (core, algos, keys, x509, crl, csr, cms, ocsp):
    set_up(vars(_module).values())

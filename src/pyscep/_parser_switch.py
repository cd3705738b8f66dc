"""PRIVATE: which parser reads an input, the DER fast path or asn1crypto; the one switch.

pyscep reads its inputs on two paths that must agree: the bounded DER fast path
(`pyscep._der_reader` and the readers built on it) for canonical DER of the
usual shapes, and asn1crypto, its differential oracle, for everything else.
This module is the only place that decides: every fast reader is tried through
`read_fast` (and `Reader` refuses to start while the fast path is off, so a
reader that forgot to ask still cannot run). The choice lives in a ContextVar:
`asn1crypto_only()` turns the fast path off for the current thread or task and
what it starts from a copy of its context, never for other threads.

`count_paths()` records which path each reader took, so that a test that forces
the asn1crypto path can prove that it ran (and the fast path did not).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal, TypeVar, get_args

__all__ = [
    "READERS",
    "NotCanonicalError",
    "ParserCounts",
    "Reading",
    "asn1crypto_only",
    "count_paths",
    "fast_path_on",
    "read_fast",
    "record",
]

#: What each reader reads (the keys of `ParserCounts`).
Reading = Literal[
    "signed_data",
    "enveloped_data",
    "scep_attributes",
    "certificate",
    "extensions",
    "request",
    "public_key",
]
READERS: tuple[Reading, ...] = get_args(Reading)
_Path = Literal["fast", "asn1crypto"]
_Value = TypeVar("_Value")


class NotCanonicalError(Exception):
    """The input is outside what the fast path reads: the asn1crypto path takes it.

    Not a ScepError, and never seen outside pyscep: `read_fast` (or the reader's
    caller) catches it and the asn1crypto path reads instead.
    """


_FAST_PATH_ON: ContextVar[bool] = ContextVar("pyscep_fast_path_on", default=True)


@dataclass
class ParserCounts:
    """How many readings took each path, per reader, while `count_paths` was active."""

    fast: Counter[str] = field(default_factory=Counter)
    asn1crypto: Counter[str] = field(default_factory=Counter)

    def total(self, path: _Path) -> int:
        """All readings that took ``path``."""
        return sum((self.fast if path == "fast" else self.asn1crypto).values())


# None (the default): nobody counts, and recording costs one ContextVar lookup.
_COUNTS: ContextVar[ParserCounts | None] = ContextVar("pyscep_parser_counts", default=None)


def fast_path_on() -> bool:
    """Whether the DER fast path may read in the current context (True by default)."""
    return _FAST_PATH_ON.get()


@contextmanager
def asn1crypto_only() -> Iterator[None]:
    """Within the block (this context only), every input goes to the asn1crypto path.

    Wrap a whole run in it to run everything on the oracle path (a benchmark, a fuzz
    campaign); threads started inside get their own context, where the fast path is on.
    """
    token = _FAST_PATH_ON.set(False)
    try:
        yield
    finally:
        _FAST_PATH_ON.reset(token)


@contextmanager
def count_paths() -> Iterator[ParserCounts]:
    """Count, within the block, which path each reading took (nested blocks count apart)."""
    counts = ParserCounts()
    token = _COUNTS.set(counts)
    try:
        yield counts
    finally:
        _COUNTS.reset(token)


def record(reading: Reading, path: _Path) -> None:
    """Note that ``reading`` took ``path`` (for readings that do not go through `read_fast`)."""
    counts = _COUNTS.get()
    if counts is not None:
        (counts.fast if path == "fast" else counts.asn1crypto)[reading] += 1


def read_fast(reading: Reading, read: Callable[[], _Value]) -> _Value | None:
    """``read()`` on the fast path, or None when the asn1crypto path must read instead:
    the fast path is off, or ``read`` stepped aside (`NotCanonicalError`). Either way
    the path taken is recorded; a caller given None reads with asn1crypto."""
    if _FAST_PATH_ON.get():
        try:
            value = read()
        except NotCanonicalError:
            pass  # stepped aside
        except BaseException:
            record(reading, "fast")  # a refusal of the fast path's own
            raise
        else:
            record(reading, "fast")
            return value
    record(reading, "asn1crypto")
    return None

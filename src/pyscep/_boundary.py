"""The parse boundary: every exception from a dependency becomes a ParseError.

asn1crypto parses lazily, so a corrupt field surfaces as whatever exception
the first access happens to raise (ValueError, KeyError, IndexError,
TypeError, UnicodeDecodeError, RecursionError...). Code that touches parsed
data does so inside `field(...)`, which turns those into `ParseError` and
records where in the structure it happened. Exceptions that only a bug
raises (AttributeError, NameError, AssertionError...) pass through, so
tests and fuzzers see pyscep's own defects instead of a ParseError.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from . import _setup_asn1crypto  # noqa: F401 - asn1crypto's tables, built before threads race
from .errors import ParseError, ScepError

__all__ = ["DEPENDENCY_ERRORS", "field"]

#: What asn1crypto and cryptography raise for malformed input.
DEPENDENCY_ERRORS = (ValueError, TypeError, LookupError, OverflowError, RecursionError)


@contextmanager
def field(name: str) -> Iterator[None]:
    """Translate any non-pyscep exception raised inside into a ParseError at ``name``.

    Nested uses build the breadcrumb: an inner ParseError gets ``name``
    prepended to its path. Other ScepErrors pass through untouched.
    """
    try:
        yield
    except ParseError as exc:
        exc.path = (name, *exc.path)
        raise
    except ScepError:
        raise
    except DEPENDENCY_ERRORS as exc:
        raise ParseError(_describe(exc), path=(name,)) from exc


def _describe(exc: BaseException) -> str:
    """A short, bounded description of a dependency's exception."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, RecursionError):
        text = "structure nested too deeply"
    return text[:200]

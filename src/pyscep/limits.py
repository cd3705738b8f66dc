"""Resource limits every parser enforces before any decoding (public, tunable)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True)
class Limits:
    """Resource bounds checked before any bytes are decoded.

    The defaults fit real SCEP messages (a few KiB, depth about 12) with a
    wide margin while keeping parse time and memory linear in the input.
    """

    #: Largest input accepted, in bytes.
    max_size: int = 1 << 20
    #: Deepest nesting of constructed elements.
    max_depth: int = 32
    #: Most TLV elements in one input.
    max_elements: int = 20_000


DEFAULT_LIMITS = Limits()

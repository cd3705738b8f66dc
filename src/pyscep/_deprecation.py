"""Old names and old module paths, kept for one release with a DeprecationWarning.

Every deprecated spelling in pyscep answers through this module, so they all
warn alike, name their replacement, and go in the same release (`REMOVED_IN`).
A module keeps its old names with a module ``__getattr__`` that calls
`renamed` (a name renamed in the same module) or `moved` (a module whose
contents went elsewhere); a deprecated property calls `warn`.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping

__all__ = ["REMOVED_IN", "moved", "renamed", "warn"]

#: The release without the deprecated spellings.
REMOVED_IN = "0.3"


def warn(old: str, new: str | None = None, *, why: str = "", stacklevel: int = 3) -> None:
    """A DeprecationWarning for ``old``, pointing to ``new`` when there is one.

    The default ``stacklevel`` blames the caller of whoever calls this: the code
    that read the old module attribute or the deprecated property.
    """
    reason = f" ({why})" if why else ""
    advice = f": use {new}" if new else ""
    warnings.warn(
        f"{old} is deprecated{reason}{advice} (the old spelling goes in pyscep {REMOVED_IN})",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def renamed(
    module: str,
    name: str,
    renames: Mapping[str, str],
    namespace: Mapping[str, object],
    *,
    why: str = "",
    instead: str | None = None,
) -> object:
    """``module.name`` asked for by its old spelling: the renamed value, with a warning.

    The warning points to the new name, or to ``instead`` (for a name made
    private: what to use in its place). AttributeError for a name ``renames``
    does not know (it never existed).
    """
    new = renames.get(name)
    if new is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warn(f"{module}.{name}", instead or f"{module}.{new}", why=why, stacklevel=4)
    return namespace[new]


def moved(old: str, new: str, name: str, renames: Mapping[str, str] | None = None) -> object:
    """``name`` asked of the old module ``old``: ``new``'s, with a warning.

    ``renames`` maps the names that were also renamed on the way (old -> new).
    AttributeError for a name ``new`` does not have, and for dunder names (which
    tools probe for; they never moved).
    """
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(f"module {old!r} has no attribute {name!r}")
    new_name = (renames or {}).get(name, name)
    try:
        value: object = getattr(importlib.import_module(new), new_name)
    except AttributeError:
        raise AttributeError(f"module {old!r} has no attribute {name!r}") from None
    warn(f"{old}.{name}", f"{new}.{new_name}", stacklevel=4)
    return value

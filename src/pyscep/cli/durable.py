"""Files that survive a crash: written whole or not at all, with their mode and owner kept."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

__all__ = ["backup", "keep_mode_and_owner", "sync_directory", "write_durably"]


def write_durably(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``path`` through a temporary file: fsync, rename, fsync the directory."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    # The umask may have narrowed the mode; what was asked for is what is kept.
    os.chmod(temporary, mode)
    os.replace(temporary, path)
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """fsync a directory, so that a rename in it survives a power cut."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def keep_mode_and_owner(original: Path, copy: Path) -> None:
    """Give ``copy`` the permission bits, owner and group of ``original``."""
    status = original.stat()
    os.chmod(copy, stat.S_IMODE(status.st_mode))
    # Not root: the files are ours already, and chown to another owner is refused.
    with contextlib.suppress(PermissionError):
        os.chown(copy, status.st_uid, status.st_gid)


def backup(path: Path, stamp: str) -> Path:
    """Copy ``path`` to ``<name>.<stamp>.bak`` (mode, owner and times kept), durably."""
    copy = path.with_name(f"{path.name}.{stamp}.bak")
    shutil.copy2(path, copy)
    keep_mode_and_owner(path, copy)
    with open(copy, "rb") as file:
        os.fsync(file.fileno())
    sync_directory(path.parent)
    return copy

"""Files the applications write, often as root: never redirected, whole or not at all.

Every write goes through a `SafeDirectory`: the directory is opened once and
checked (owned by root or by this user, and no one else may add or rename
entries in it, unless it is sticky like ``/tmp``), and every name in it is
used relative to that descriptor:

- a file is created exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``) under an
  unpredictable temporary name, with its mode from the first instant (then
  exactly that mode, whatever the umask), written, fsynced, and renamed over
  its target, and the directory is fsynced;
- a backup is created the same way under a name of its own (another name
  when one is taken), with the original's mode, then given its owner;
- a lock file is opened with ``O_CREAT | O_NOFOLLOW`` and never truncated.

A link planted at a temporary, backup or lock name is never followed (the
name is skipped or refused); one planted at a target is replaced by the
rename, like any other file there.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, TypeVar

from pyscep.errors import ScepError

__all__ = ["Directories", "SafeDirectory", "UnsafeFileError", "append", "write_durably"]

#: Create a name that does not exist yet, never through a link.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: Append to a file, made if need be, never through a link.
_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
#: Read, without blocking on a FIFO planted where a file was expected.
_READ = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
#: Names tried (``.bak``, ``.1.bak`` ...; random temporary names) before giving up.
_ATTEMPTS = 100


class UnsafeFileError(ScepError):
    """A directory or file that pyscep refuses to write through; the message names it."""


def append(path: Path, data: bytes, *, mode: int = 0o640) -> None:
    """Add ``data`` at the end of the regular file ``path`` (made with ``mode`` if new),
    never through a link: for logs, which grow in place rather than being replaced."""
    try:
        descriptor = os.open(path, _APPEND, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFileError(f"{path} is a symbolic link: refusing to follow it") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise UnsafeFileError(f"{path} is not a regular file")
        _write_all(descriptor, data)
    finally:
        os.close(descriptor)


#: The largest secrets file read (a PIN, a few credentials).
_MAX_SECRET_FILE = 64 * 1024


def read_secret_lines(path: Path, what: str) -> list[str]:
    """The lines of ``path``, a file that holds secrets (a PIN, passwords): refused
    (UnsafeFileError) unless it is a regular file of this user's that nobody else may
    read, checked on the file opened (nothing can swap it in between; a FIFO is never
    waited on), of at most 64 KiB of UTF-8 (a byte-order mark allowed)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnsafeFileError(f"{what} {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "rb") as opened:
        status = os.fstat(opened.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeFileError(f"{what} {path} is not a regular file")
        if status.st_uid != os.geteuid():
            raise UnsafeFileError(f"{what} {path} belongs to another user")
        if status.st_mode & 0o077:
            raise UnsafeFileError(f"{what} {path} may be read by others: chmod 600 it")
        data = opened.read(_MAX_SECRET_FILE + 1)
    if len(data) > _MAX_SECRET_FILE:
        raise UnsafeFileError(f"{what} {path} is over 64 KiB")
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise UnsafeFileError(f"{what} {path} is not UTF-8") from None


def write_durably(path: Path, data: bytes, *, mode: int) -> None:
    """Replace ``path`` with ``data`` (mode ``mode``): see `SafeDirectory.write`."""
    with SafeDirectory(path.parent) as directory:
        directory.write(path.name, data, mode=mode)


_Self = TypeVar("_Self", bound="_Closing")


class _Closing:
    """``with`` closes it."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class SafeDirectory(_Closing):
    """A directory opened once and checked; names in it are written without following links."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise UnsafeFileError(f"{path}: no such directory") from None
        except NotADirectoryError:
            raise UnsafeFileError(f"{path}: not a directory") from None
        try:
            _check_trusted(self.fd, path)
        except BaseException:
            os.close(self.fd)
            raise

    def close(self) -> None:
        """Close the directory (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _where(self, name: str) -> Path:
        return self.path / name

    def _open(self, name: str, flags: int, mode: int = 0o600) -> int:
        _leaf(name, self.path)
        try:
            return os.open(name, flags, mode, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafeFileError(
                    f"{self._where(name)} is a symbolic link: refusing to follow it"
                ) from None
            raise

    def _regular(self, descriptor: int, name: str) -> os.stat_result:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeFileError(f"{self._where(name)} is not a regular file")
        return status

    def sync(self) -> None:
        """fsync the directory, so that the renames in it survive a power cut."""
        os.fsync(self.fd)

    def exists(self, name: str) -> bool:
        """Is there anything (a link included) called ``name``?"""
        _leaf(name, self.path)
        try:
            os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def read(self, name: str, *, follow: bool = True) -> bytes:
        """The bytes of the regular file ``name`` (``follow=False``: a link is refused)."""
        descriptor = self._open(name, _READ | (0 if follow else os.O_NOFOLLOW))
        with os.fdopen(descriptor, "rb") as file:
            self._regular(descriptor, name)
            return file.read()

    def write(self, name: str, data: bytes, *, mode: int) -> None:
        """Replace ``name`` with ``data``: a new file of ``mode``, renamed over it."""
        self._replaceable(name)
        temporary, descriptor = self._create(
            lambda attempt: f".{name}.{secrets.token_hex(8)}.tmp", mode
        )
        try:
            try:
                _write_all(descriptor, data)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=self.fd)
            raise
        self.sync()

    def create(self, name: str, data: bytes, *, mode: int) -> None:
        """A new file ``name`` of ``mode`` holding ``data``; FileExistsError when there is
        one already (nothing is replaced, no link is followed)."""
        with self.open_new(name, mode=mode) as file:
            _write_all(file.fileno(), data)
            os.fsync(file.fileno())
        self.sync()

    def open_new(self, name: str, *, mode: int) -> IO[bytes]:
        """A new file ``name`` of ``mode``, open for writing (a log another process writes
        to); FileExistsError when there is one already (no link is followed)."""
        descriptor = self._open(name, _CREATE, mode)
        try:
            os.fchmod(descriptor, mode)  # whatever the umask narrowed
        except BaseException:
            os.close(descriptor)
            raise
        return os.fdopen(descriptor, "wb")

    def replace(self, staged: str, target: str) -> None:
        """Rename the regular file ``staged`` over ``target`` (a link at ``target`` is replaced)."""
        self._replaceable(target)
        _leaf(staged, self.path)
        status = os.stat(staged, dir_fd=self.fd, follow_symlinks=False)
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeFileError(f"{self._where(staged)} is not a regular file")
        os.replace(staged, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        self.sync()

    def _replaceable(self, name: str) -> None:
        """Refuse to replace what is not a file: ``--out /dev/null`` must not replace a device."""
        _leaf(name, self.path)
        try:
            status = os.stat(name, dir_fd=self.fd)  # through a link: what it stands for
        except FileNotFoundError:
            return  # nothing there, or a dangling link: the rename replaces it
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeFileError(f"{self._where(name)} is not a regular file: not replacing it")

    def unlink(self, name: str) -> None:
        """Remove ``name`` if it is there (a link is removed, not followed)."""
        _leaf(name, self.path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def copy_mode_and_owner(self, original: str, copy: str) -> None:
        """Give the regular file ``copy`` the permission bits, owner and group of ``original``."""
        _leaf(original, self.path)
        status = os.stat(original, dir_fd=self.fd)
        descriptor = self._open(copy, _READ | os.O_NOFOLLOW)
        try:
            self._regular(descriptor, copy)
            _give(descriptor, status.st_uid, status.st_gid)
            os.fchmod(descriptor, stat.S_IMODE(status.st_mode) & 0o777)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def backup(self, name: str, stamp: str) -> str:
        """Copy ``name`` to ``<name>.<stamp>.bak`` (mode, owner and times kept), durably.

        The copy has the original's mode from the moment it exists; when that
        name is taken (an earlier run, or anything planted there) the next of
        ``<name>.<stamp>.1.bak``, ``.2.bak`` ... is used. Returns the name.
        """
        source = self._open(name, _READ)
        try:
            status = self._regular(source, name)
            mode = stat.S_IMODE(status.st_mode) & 0o777
            copy, descriptor = self._create(
                lambda attempt: f"{name}.{stamp}{f'.{attempt}' if attempt else ''}.bak", mode
            )
            try:
                try:
                    with os.fdopen(os.dup(source), "rb") as reader:
                        while chunk := reader.read(1 << 16):
                            _write_all(descriptor, chunk)
                    _give(descriptor, status.st_uid, status.st_gid)
                    os.fchmod(descriptor, mode)
                    os.utime(descriptor, ns=(status.st_atime_ns, status.st_mtime_ns))
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(copy, dir_fd=self.fd)
                raise
        finally:
            os.close(source)
        self.sync()
        return copy

    def lock(self, name: str, *, wait: bool = False) -> IO[bytes]:
        """An exclusive lock on ``name`` (created 0600, never truncated, never a link), held
        until the returned file is closed. BlockingIOError when another process holds it,
        unless ``wait`` (then it waits for it).
        """
        descriptor = self._open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | _READ)
        try:
            self._regular(descriptor, name)
            fcntl.flock(descriptor, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(descriptor)
            raise
        return os.fdopen(descriptor, "rb")

    def _create(self, naming: Callable[[int], str], mode: int) -> tuple[str, int]:
        """A new file of ``mode`` under the first free name ``naming(0)``, ``naming(1)``..."""
        for attempt in range(_ATTEMPTS):
            name = naming(attempt)
            try:
                descriptor = self._open(name, _CREATE, mode)
            except FileExistsError:
                continue  # taken, perhaps by a planted link: never written through
            # The umask may have narrowed the mode; what was asked for is what is kept.
            os.fchmod(descriptor, mode)
            return name, descriptor
        raise UnsafeFileError(f"{self._where(naming(0))}: {_ATTEMPTS} names are taken")


class Directories(_Closing):
    """The directories one run works in, each opened and checked once."""

    def __init__(self) -> None:
        self._open: dict[Path, SafeDirectory] = {}

    def close(self) -> None:
        """Close them all."""
        for directory in self._open.values():
            directory.close()
        self._open.clear()

    def of(self, path: Path) -> tuple[SafeDirectory, str]:
        """The opened directory that holds ``path``, and ``path``'s name in it."""
        if path.parent not in self._open:
            self._open[path.parent] = SafeDirectory(path.parent)
        return self._open[path.parent], path.name


def _check_trusted(descriptor: int, path: Path) -> None:
    """Refuse a directory where someone else could plant or swap names.

    Trusted: owned by root or by this user, and writable by no one else
    (group write only for root's group or this process's own group), unless
    it is sticky (``/tmp``): there others can add names but cannot rename or
    remove ours, and every name pyscep creates is created exclusively.
    """
    status = os.fstat(descriptor)
    if status.st_uid not in (0, os.geteuid()):
        raise UnsafeFileError(
            f"{path}: owned by uid {status.st_uid}, neither root nor this user;"
            " refusing to write in it"
        )
    if status.st_mode & stat.S_ISVTX:
        return
    if status.st_mode & stat.S_IWOTH:
        raise UnsafeFileError(f"{path}: writable by anyone; refusing to write in it (chmod o-w)")
    if status.st_mode & stat.S_IWGRP and status.st_gid not in (0, os.getegid()):
        raise UnsafeFileError(
            f"{path}: writable by group {status.st_gid}; refusing to write in it (chmod g-w)"
        )


def _leaf(name: str, directory: Path) -> None:
    """Only a name in the directory itself: nothing that would walk out of it."""
    if not name or "/" in name or name in (".", ".."):
        raise UnsafeFileError(f"{name!r} is not a file name in {directory}")


def _give(descriptor: int, uid: int, gid: int) -> None:
    """fchown; as another user than root the file is ours already and chown is refused."""
    with contextlib.suppress(PermissionError):
        os.fchown(descriptor, uid, gid)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]

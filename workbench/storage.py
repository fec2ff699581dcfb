"""Files on disk written whole or not at all.

Every stored file (evidence, report versions, uploaded templates, archive packages) goes
through :func:`store_bytes` or :func:`store_file`: the data is written to a temporary file in
the target's folder, flushed and fsynced, its size and SHA-256 checked, and only then renamed
over the target with :func:`os.replace` (atomic on POSIX within one file system). On any error
(a full disk: ``ENOSPC``) the temporary file is removed and the error raised, so a caller that
writes its database row after storing the file stores no row either. No Flask.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

BLOCK = 1024 * 1024


class StorageError(OSError):
    """The file could not be stored (disk full, permissions, a failed check); nothing kept."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: read once at import, before any thread could create a file in between
_UMASK = _umask()


@contextlib.contextmanager
def atomic_writer(target: Path) -> Iterator[BinaryIO]:
    """Yield a binary file in ``target``'s folder; on a clean exit it is fsynced and renamed
    over ``target``; on any exception it is removed and the exception re-raised."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:40]}.", suffix=".tmp")
    try:  # mkstemp's 0600, not the umask's mode that a plain open gives (backups as another user)
        os.fchmod(fd, 0o666 & ~_UMASK)
    finally:
        os.close(fd)
    tmp = Path(name)
    try:
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def store_file(
    target: Path, write: Callable[[BinaryIO], None], *, sha256: str | None = None
) -> tuple[str, int]:
    """Write ``target`` through ``write(fileobj)`` atomically; return its SHA-256 and size
    (checked against ``sha256`` when given)."""
    try:
        with atomic_writer(target) as fh:
            write(fh)
            fh.flush()
            size = os.fstat(fh.fileno()).st_size
            digest = hashlib.sha256()
            with open(fh.name, "rb") as check:  # read back what reached the file
                while block := check.read(BLOCK):
                    digest.update(block)
            if sha256 is not None and digest.hexdigest() != sha256:
                raise StorageError(f"{target.name}: written data does not match its SHA-256")
    except StorageError:
        raise
    except OSError as exc:  # ENOSPC, EDQUOT, EIO ...
        raise StorageError(exc.errno, f"cannot store {target.name}: {exc.strerror or exc}") from exc
    return digest.hexdigest(), size


def store_bytes(target: Path, data: bytes, *, sha256: str | None = None) -> str:
    """Store ``data`` as ``target`` atomically (see the module); return its SHA-256.

    A target that already holds exactly these bytes (content-addressed files) is kept."""
    expected = sha256 or hashlib.sha256(data).hexdigest()
    with contextlib.suppress(OSError):
        if target.stat().st_size == len(data) and sha256_of(target) == expected:
            return expected
    digest, size = store_file(target, lambda fh: fh.write(data), sha256=expected)
    if size != len(data):
        with contextlib.suppress(OSError):
            target.unlink()
        raise StorageError(f"{target.name}: wrote {size} of {len(data)} bytes")
    return digest

"""Files that survive a crash whole: a kill -9 or a power cut leaves the old content or the new, never a torn mix."""

import os
import secrets
from pathlib import Path

__all__ = ["fsync_directory", "replace_atomically", "write_temporary"]


def fsync_directory(path: Path) -> None:
    """Make a file's creation, rename or removal in ``path`` durable (the entry lives in the directory)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temporary(path: Path, data: bytes, *, mode: int = 0o600) -> Path:
    """Write ``data`` to a new file next to ``path`` (created with ``mode``), fsync'd; return its path."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return temporary


def replace_atomically(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace the content of ``path`` with ``data`` in one step.

    Example::

        replace_atomically(home / "deployments" / "anvil-31337.json", record_json.encode(), mode=0o644)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(write_temporary(path, data, mode=mode), path)
    fsync_directory(path.parent)

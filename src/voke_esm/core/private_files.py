"""Folders and files the service creates for itself: its owner's only, whatever the umask.

The SQLite database and the generated secrets (JWT key, encryption key) live in them; another
local user must not read either (CONTRACT §1: "mode 0600").
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) unless it exists; the folder created is 0700.

    A folder that already exists is left as it is: it may be the operator's own.
    """
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:  # made meanwhile by another process
        return
    os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask


def create_private_file(path: Path) -> int | None:
    """Create `path` with mode 0600 and return its descriptor, open for writing; None when it
    exists already (then it is left as it is)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return None
    os.fchmod(fd, PRIVATE_FILE_MODE)  # os.open's mode is filtered by the umask
    return fd

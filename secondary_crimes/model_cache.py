"""The private folder ``models:/`` and ``runs:/`` downloads are cached in.

Only its owner may write there: a model planted in a shared folder would be unpickled. The
folder is ``$SECONDARY_CRIMES_MODEL_CACHE``, default ``$XDG_CACHE_HOME/secondary-crimes/models``
(``~/.cache/...``). It is created with mode 0700, and used only while it is a real directory
(not a symlink) owned by the current user with no group or other permissions; otherwise
loading stops with an error saying what is wrong.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

ENV = "SECONDARY_CRIMES_MODEL_CACHE"


class ModelCacheError(ValueError):
    """The model cache folder is not private to this user."""


def default_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "secondary-crimes" / "models"


def private_dir(path: Path) -> Path:
    """``path`` as a directory only this user can use: created 0700 if absent, else checked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode passes through the umask
    except FileExistsError:
        pass
    info = os.lstat(path)
    fix = f"remove it or point {ENV} at a private folder"
    if not stat.S_ISDIR(info.st_mode):
        raise ModelCacheError(f"{path}: model cache is not a directory (a symlink or file); {fix}")
    if info.st_uid != os.geteuid():
        raise ModelCacheError(f"{path}: model cache is owned by uid {info.st_uid}, not by you; {fix}")
    if info.st_mode & 0o077:
        raise ModelCacheError(
            f"{path}: model cache is open to other users (mode {stat.S_IMODE(info.st_mode):04o}, needs 0700) "
            f"and may hold planted files; {fix}"
        )
    return path


def cache_root() -> Path:
    """The checked cache folder."""
    configured = os.environ.get(ENV)
    return private_dir(Path(configured) if configured else default_root())

"""The queue's own settings and its data folder (where a generated secret key is kept)."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from secondary_crimes.settings import ENV_PREFIX, get_settings

log = logging.getLogger(__name__)
KEY_FILE = "queue_secret_key"


def setting(name: str, default: Any = None) -> Any:
    """``name`` from env ``SECONDARY_CRIMES_<NAME>``, else the settings files, else ``default``."""
    value = os.environ.get(ENV_PREFIX + name.upper())
    if value is None:
        value = get_settings().get(name)
    return default if value in (None, "") else value


def flag(name: str, default: bool) -> bool:
    """A yes/no setting ("1", "true", "yes", "on" are yes)."""
    value = setting(name)
    return default if value is None else str(value).strip().lower() in ("1", "true", "yes", "on")


def data_dir(database_url: str) -> Path:
    """``queue_data_dir``; else the SQLite file's folder; else ``$XDG_DATA_HOME/secondary-crimes``."""
    configured = setting("queue_data_dir")
    if configured:
        return Path(configured).expanduser()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).expanduser().resolve().parent
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "secondary-crimes"


def persisted_key(directory: Path) -> str:
    """The secret key kept in ``directory`` (mode 0600), made on first use so restarts keep sessions."""
    path = directory / KEY_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        staged = directory / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(staged, path)  # atomic and never overwrites: of two first starts, one key wins
            log.warning("no queue_secret_key set: generated one and kept it in %s", path)
        except FileExistsError:
            pass
        finally:
            staged.unlink()
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("%s was readable by others: made it 0600", path)
        path.chmod(0o600)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable secret key; delete it to make a new one")
    return key

"""Accounts and sessions: argon2 password hashes, the signed session cookie, CSRF tokens."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from secondary_crimes.queue import audit_log
from secondary_crimes.queue.models import ROLES, User
from secondary_crimes.queue.names import MAX_USERNAME, login_name

HASHER = PasswordHasher()
# Verified against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = HASHER.hash("not-a-password-" + secrets.token_hex(8))

SESSION_USER = "uid"
SESSION_GENERATION = "gen"
SESSION_CSRF = "csrf"
CSRF_FIELD = "csrf_token"
MIN_PASSWORD = 10
# At most HASH_SLOTS argon2 computations at once (64 MiB and a CPU core or more each); a login that
# waits HASH_WAIT seconds for a slot is turned away as busy.
HASH_SLOTS = 2
HASH_WAIT = 10.0
_hashing = threading.BoundedSemaphore(HASH_SLOTS)


class UserError(ValueError):
    pass


class Busy(RuntimeError):
    """Every password-hashing slot stayed taken for HASH_WAIT seconds."""


@contextmanager
def _hash_slot() -> Iterator[None]:
    if not _hashing.acquire(timeout=HASH_WAIT):
        raise Busy("too many logins at once: try again in a moment")
    try:
        yield
    finally:
        _hashing.release()


def hash_password(password: str) -> str:
    with _hash_slot():
        return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    with _hash_slot():
        try:
            return HASHER.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(
    session: Session, username: str, role: str, password: str | None = None, *, actor: User | None = None
) -> tuple[User, str]:
    """Create an account; returns it and its password (generated when none is given)."""
    username = login_name(username)
    if (
        not username
        or len(username) > MAX_USERNAME
        or not username.replace("_", "").replace(".", "").replace("-", "").isalnum()
    ):
        raise UserError(f"invalid username {username!r}: letters, digits, '.', '-' and '_' only")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if find_user(session, username) is not None:
        raise UserError(f"user {username!r} already exists")
    password = _checked_password(password or generate_password())
    user = User(username=username, password_hash=hash_password(password), role=role, active=True)
    session.add(user)
    session.flush()
    _log(session, actor, "create_user", username, role=role)
    return user, password


def _checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password too short: at least {MIN_PASSWORD} characters")
    return password


def end_sessions(user: User) -> None:
    """End every session of ``user``, on every device and every copy of its cookie."""
    user.session_generation = (user.session_generation or 0) + 1


def set_password(session: Session, user: User, password: str | None = None, *, actor: User | None = None) -> str:
    """Give ``user`` a new password (generated when none is given) and end their sessions; returns it."""
    password = _checked_password(password or generate_password())
    user.password_hash = hash_password(password)
    end_sessions(user)
    _log(session, actor, "set_password", user.username)
    return password


def deactivate(session: Session, user: User, *, actor: User | None = None) -> None:
    """Refuse ``user`` from now on and end their sessions (the account and its decisions stay)."""
    user.active = False
    end_sessions(user)
    _log(session, actor, "deactivate", user.username)


def _log(session: Session, actor: User | None, action: str, target: str, **detail: Any) -> None:
    """An account change, by ``actor`` or (without one) from the command line."""
    if actor is None:
        audit_log.record_cli(session, action, target, **detail)
    else:
        audit_log.record(session, actor, action, target, **detail)


def find_user(session: Session, username: str) -> User | None:
    """The account called ``username`` however it is spelt (see :func:`login_name`)."""
    name = login_name(username)
    if not name or len(name) > MAX_USERNAME:
        return None
    return session.scalar(select(User).where(User.username == name))


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = find_user(session, username)
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def log_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new CSRF token: no session fixation)."""
    request.session.clear()
    request.session[SESSION_USER] = user.id
    request.session[SESSION_GENERATION] = user.session_generation
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)


def session_user(request: Request, session: Session) -> User | None:
    """The user of this request's session, if it is still current (active, generation not bumped)."""
    user_id = request.session.get(SESSION_USER)
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None or not user.active or request.session.get(SESSION_GENERATION) != user.session_generation:
        log_out(request)
        return None
    return user


def log_out(request: Request) -> None:
    request.session.clear()


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = request.session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return token


def csrf_valid(request: Request, submitted: str | None) -> bool:
    expected = request.session.get(SESSION_CSRF)
    return bool(expected and submitted) and hmac.compare_digest(str(expected), str(submitted))

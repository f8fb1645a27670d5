"""Login throttling: who may try a password now.

* Per (account, client address), from the audit log (so across processes): 5 failed logins within
  15 minutes refuse that account from that address for the rest of the window. Other addresses,
  such as the real user's own machine, are unaffected.
* Per account: 20 failed logins from all addresses within 15 minutes refuse the account from
  every address it has not logged in from in the last 30 days (a distributed guesser is stopped;
  the user's usual machines still work).
* Per client address, in this process (a sliding window; restarts forget it): 20 failed logins
  for any accounts within 15 minutes refuse every login from that address until they age out.
* ``queue unlock USER`` (an ``unlock`` event) forgets the account's earlier failures.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from secondary_crimes.queue import audit_log
from secondary_crimes.queue.models import AuditEvent, User, utcnow
from secondary_crimes.queue.names import MAX_USERNAME, login_name

WINDOW = timedelta(minutes=15)
ACCOUNT_ADDRESS_FAILURES = 5
ACCOUNT_FAILURES = 20
KNOWN_ADDRESS_AGE = timedelta(days=30)
ADDRESS_FAILURES = 20


class SlidingWindow:
    """At most ``limit`` hits per key within the last ``window`` seconds (thread-safe, in memory)."""

    MAX_KEYS = 100_000

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key, self.clock())) >= self.limit

    def hit(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            if len(self._hits) >= self.MAX_KEYS:  # forget idle keys so memory stays bounded
                for stale in [k for k in self._hits if not self._recent(k, now)]:
                    del self._hits[stale]
            self._recent(key, now).append(now)


def address_limiter() -> SlidingWindow:
    """The per-address window of one app (failed logins from one client address)."""
    return SlidingWindow(ADDRESS_FAILURES, WINDOW.total_seconds())


def locked_out(session: Session, username: str, address: str | None) -> bool:
    """Whether ``username`` may not try a password from ``address`` now (see the module's rules)."""
    name = login_name(username)[:MAX_USERNAME]
    now = utcnow()
    unlocked = session.scalar(
        select(func.max(AuditEvent.at)).where(
            AuditEvent.action == "unlock", AuditEvent.target == name, AuditEvent.at >= now - WINDOW
        )
    )
    failures = select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "login_failed", AuditEvent.username == name, AuditEvent.at >= (unlocked or now - WINDOW)
    )
    if (session.scalar(failures.where(AuditEvent.address == address)) or 0) >= ACCOUNT_ADDRESS_FAILURES:
        return True
    return (session.scalar(failures) or 0) >= ACCOUNT_FAILURES and not _known_address(session, name, address, now)


def _known_address(session: Session, name: str, address: str | None, now) -> bool:
    """Whether ``name`` logged in from ``address`` within KNOWN_ADDRESS_AGE."""
    return (
        session.scalar(
            select(AuditEvent.id)
            .where(
                AuditEvent.action == "login",
                AuditEvent.username == name,
                AuditEvent.address == address,
                AuditEvent.at >= now - KNOWN_ADDRESS_AGE,
            )
            .limit(1)
        )
        is not None
    )


def unlock(session: Session, user: User, *, actor: User | None = None) -> None:
    """Forget ``user``'s failed logins so far (the per-address window of a running server stays)."""
    if actor is None:
        audit_log.record_cli(session, "unlock", user.username)
    else:
        audit_log.record(session, actor, "unlock", user.username)

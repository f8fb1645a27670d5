"""Small pieces: highlighting, passwords, accounts."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from secondary_crimes.queue import auth
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.highlight import highlight, locate


def test_highlight_escapes_and_splits_overlaps() -> None:
    text = "a <b> hit him & choked him"
    html = str(highlight(text, [(6, 13, "common_assault"), (10, 26, "non_fatal_strangulation")]))
    assert html.startswith("a &lt;b&gt; ")
    assert '<mark class="ev h0" data-offences="common_assault"' in html
    assert 'data-offences="common_assault non_fatal_strangulation"' in html and "multi" in html
    assert html.count("<mark") == 3
    assert str(highlight(text, [(50, 60, "theft")])) == "a &lt;b&gt; hit him &amp; choked him"


def test_locate_prefers_the_quoted_text() -> None:
    text = "He said he would kill her. Then he left."
    assert locate(text, 0, 5, "would kill her") == (11, 25)
    assert locate(text, 3, 7, "") == (3, 7)
    assert locate(text, 3, 3, "") is None


def test_default_hasher_is_argon2id_with_strong_parameters() -> None:
    hasher = PasswordHasher()  # what auth.HASHER is outside the tests
    assert hasher.type.name == "ID" and hasher.memory_cost >= 19 * 1024 and hasher.time_cost >= 2
    digest = auth.hash_password("correct-horse-battery")
    assert digest.startswith("$argon2id$") and "correct" not in digest
    assert auth.verify_password(digest, "correct-horse-battery")
    assert not auth.verify_password(digest, "wrong")
    assert not auth.verify_password("not a hash", "wrong")


def test_create_user_rules(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        with database.session() as session:
            user, password = auth.create_user(session, "amy.b", "supervisor")
            assert len(password) >= auth.MIN_PASSWORD and auth.authenticate(session, "amy.b", password) is user
            assert auth.authenticate(session, "amy.b", password + "x") is None
            assert auth.authenticate(session, "nobody", password) is None
            for username, role, pw, message in [
                ("amy.b", "auditor", None, "already exists"),
                ("bad name", "auditor", None, "invalid username"),
                ("zed", "king", None, "unknown role"),
                ("zed", "auditor", "short", "too short"),
            ]:
                with pytest.raises(auth.UserError, match=message):
                    auth.create_user(session, username, role, pw)
    finally:
        database.dispose()


def test_usernames_are_stored_as_login_spells_them(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        with database.session() as session:
            user, _ = auth.create_user(session, " Amy.B ", "auditor", "a-long-password")
            assert user.username == "amy.b"
            with pytest.raises(auth.UserError, match="already exists"):
                auth.create_user(session, "AMY.B", "auditor", "a-long-password")
            assert auth.authenticate(session, "Amy.b  ", "a-long-password") is user
    finally:
        database.dispose()

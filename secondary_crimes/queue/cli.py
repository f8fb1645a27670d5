"""Command line for the review queue: load, export, accounts; serve and the demo.

The project CLI mounts ``queue_app`` as ``secondary-crimes queue`` and calls :func:`serve`
and :func:`run_demo_queue` for ``secondary-crimes serve`` and ``secondary-crimes demo``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from secondary_crimes.queue import auth, config, lockout
from secondary_crimes.queue.auth import UserError, create_user
from secondary_crimes.queue.checks import CheckSettings
from secondary_crimes.queue.checks import estimate as check_estimate
from secondary_crimes.queue.db import Database, default_url
from secondary_crimes.queue.export import export_file
from secondary_crimes.queue.load import LoadError, load_file
from secondary_crimes.queue.models import ROLES, User

queue_app = typer.Typer(
    help="The auditors' review queue: load scored output, export decisions, manage users.", no_args_is_help=True
)

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: settings queue_database_url).")]
PasswordOption = Annotated[str | None, typer.Option("--password", help="Omit to be prompted (empty = generate).")]
PromptOption = Annotated[bool, typer.Option("--prompt/--no-prompt", help="Prompt for a password when none is given.")]


@queue_app.command("load")
def load_command(
    scored: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Scored JSON Lines.")],
    db: DbOption = None,
    check_random: Annotated[int | None, typer.Option(
        "--check-random", min=0, help="Unflagged incidents to queue as random check items "
        "(default: setting queue_check_random).")] = None,
    check_uncertain: Annotated[int | None, typer.Option(
        "--check-uncertain", min=0, help="Unflagged incidents with the most uncertain review priority to queue as "
        "check items (default: setting queue_check_uncertain).")] = None,
    check_seed: Annotated[int | None, typer.Option(
        "--check-seed", help="Seed of the random check items (default: setting queue_check_seed).")] = None,
) -> None:
    """Upsert scored output into the queue (loading the same file twice changes nothing).

    Also queues check items: a random and an uncertainty-ranked sample of the incidents the file
    does not flag, so auditors find the model's misses (docs/review_queue.md).
    """
    defaults = CheckSettings.from_settings()
    checks = CheckSettings(
        defaults.random if check_random is None else check_random,
        defaults.uncertain if check_uncertain is None else check_uncertain,
        defaults.seed if check_seed is None else check_seed,
    )
    database = Database(db or default_url())
    try:
        with database.session() as session:
            report = load_file(session, scored, checks=checks)
        database.analyze()
    except LoadError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    typer.echo(f"loaded {scored}: {report}")


@queue_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="Where to write labels (JSON Lines).")], db: DbOption = None
) -> None:
    """Write the auditors' decisions in the corpus format, for `train` as extra data.

    Only the offences they decided are labelled (``known_offences``); the rest stay unknown.
    """
    database = Database(db or default_url())
    try:
        with database.session() as session:
            summary = export_file(session, out)
    finally:
        database.dispose()
    typer.echo(f"wrote {summary} to {out}")


@queue_app.command("check-estimate")
def check_estimate_command(db: DbOption = None) -> None:
    """From the decided random check items: the share of unflagged incidents holding a missed offence."""
    database = Database(db or default_url())
    try:
        with database.session() as session:
            result = check_estimate(session)
    finally:
        database.dispose()
    typer.echo(str(result))


@queue_app.command("create-user")
def create_user_command(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")] = "auditor",
    password: PasswordOption = None,
    db: DbOption = None,
    prompt: PromptOption = True,
) -> None:
    """Create an account. Without --password: prompt, or generate one and print it."""
    password = _ask_password(password, prompt)
    database = Database(db or default_url())
    try:
        with database.session() as session:
            user, password_used = create_user(session, username, role, password)
    except UserError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    typer.echo(f"created {user.role} {user.username!r}")
    if password is None:
        typer.echo(f"password: {password_used}")


@queue_app.command("set-password")
def set_password_command(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password: PasswordOption = None,
    db: DbOption = None,
    prompt: PromptOption = True,
) -> None:
    """Give an account a new password and end all its sessions. Without --password: prompt or generate."""
    password = _ask_password(password, prompt)
    with _account(db, username) as (session, user):
        password_used = auth.set_password(session, user, password)
    typer.echo(f"new password set for {user.username!r}; their sessions have ended")
    if password is None:
        typer.echo(f"password: {password_used}")


@queue_app.command("deactivate")
def deactivate_command(username: Annotated[str, typer.Argument(help="Login name.")], db: DbOption = None) -> None:
    """Refuse an account from now on and end all its sessions (its decisions stay)."""
    with _account(db, username) as (session, user):
        auth.deactivate(session, user)
    typer.echo(f"deactivated {user.username!r}; their sessions have ended")


@queue_app.command("unlock")
def unlock_command(username: Annotated[str, typer.Argument(help="Login name.")], db: DbOption = None) -> None:
    """Lift a login lockout: the account's failed logins so far no longer count."""
    with _account(db, username) as (session, user):
        lockout.unlock(session, user)
    typer.echo(f"unlocked {user.username!r}")


def _ask_password(password: str | None, prompt: bool) -> str | None:
    if password is None and prompt:
        password = (
            typer.prompt(
                "Password (empty to generate one)",
                default="",
                hide_input=True,
                confirmation_prompt=True,
                show_default=False,
            )
            or None
        )
    return password


@contextmanager
def _account(db: str | None, username: str) -> Iterator[tuple[Session, User]]:
    """A session and the account ``username`` (exit 1 if there is none or the change is refused)."""
    database = Database(db or default_url())
    try:
        with database.session() as session:
            user = auth.find_user(session, username)
            if user is None:
                typer.echo(f"error: no user {username!r}", err=True)
                raise typer.Exit(1)
            yield session, user
    except UserError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        database.dispose()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    db_url: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    secure_cookies: bool | None = None,
    hsts: bool | None = None,
    trusted_proxies: str | None = None,
) -> None:
    """Serve the review queue with uvicorn.

    Unset options come from the settings ``queue_secure_cookies`` (default: on unless ``host`` is
    a loopback address), ``queue_hsts`` (default: as secure cookies) and ``queue_trusted_proxies``
    (comma-separated addresses whose X-Forwarded-For/-Proto are believed; default: none).
    """
    import uvicorn

    from secondary_crimes.queue.app import create_app

    secure = config.flag("queue_secure_cookies", not _loopback(host)) if secure_cookies is None else secure_cookies
    hsts = config.flag("queue_hsts", secure) if hsts is None else hsts
    trusted = config.setting("queue_trusted_proxies") if trusted_proxies is None else trusted_proxies
    uvicorn.run(
        create_app(db_url, secure_cookies=secure, hsts=hsts),
        host=host,
        port=port,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


@queue_app.command("serve")
def serve_command(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[
        bool | None,
        typer.Option(
            "--secure-cookies/--no-secure-cookies",
            help="Session cookie over HTTPS only (default: on unless HOST is loopback; behind a TLS proxy: on).",
        ),
    ] = None,
    hsts: Annotated[
        bool | None, typer.Option("--hsts/--no-hsts", help="Send Strict-Transport-Security (default: as cookies).")
    ] = None,
    trusted_proxies: Annotated[
        str | None,
        typer.Option(help="Comma-separated proxy addresses whose X-Forwarded-For/-Proto are trusted (default: none)."),
    ] = None,
) -> None:
    """Serve the review queue (web app); behind a TLS proxy: --secure-cookies --trusted-proxies ADDR."""
    serve(db or default_url(), host, port, secure_cookies=secure_cookies, hsts=hsts, trusted_proxies=trusted_proxies)


def run_demo_queue(scored_path: Path | str, db_url: str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Load scored output, create a demo auditor with a random password, print how to log in, serve."""
    database = Database(db_url)
    try:
        with database.session() as session:
            report = load_file(session, Path(scored_path))
        database.analyze()
        typer.echo(f"loaded {scored_path}: {report}")
        username = "demo-auditor"
        with database.session() as session:
            existing = auth.find_user(session, username)
            if existing is None:
                _, password = create_user(session, username, "auditor")
            else:  # a rerun of the demo: give the demo account a fresh password
                password = auth.set_password(session, existing)
    finally:
        database.dispose()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo(f"\nReview queue: http://{shown}:{port}/login\n  username: {username}\n  password: {password}\n")
    serve(db_url, host, port)

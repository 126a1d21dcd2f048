"""`vmi serve-web` and `vmi users add`: the workbench's commands (registered by flows.cli)."""

from __future__ import annotations

import getpass
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from web.users import ROLES, UsersError, add_user


class ReadyServer(uvicorn.Server):
    """A uvicorn server that says when its start-up has settled, to wait on without polling.

    ``settled`` is set once start-up has finished or failed (then ``started`` stays False);
    ``on_ready`` runs once the socket listens.
    """

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None = None):
        super().__init__(config)
        self.settled = threading.Event()
        self._on_ready = on_ready

    async def startup(self, sockets=None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.settled.set()
        if self.started and self._on_ready is not None:
            self._on_ready()


users_app = typer.Typer(help="Workbench users (argon2-hashed passwords in a users file).")

USERS_HELP = "Users file (JSON, argon2 hashes; env VMI_USERS_FILE)."


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (no spaces).")],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")] = "viewer",
    dealer: Annotated[
        str | None,
        typer.Option(help="The dealer_id of a dealer user (its portal shows that dealer only)."),
    ] = None,
    users: Annotated[Path, typer.Option(envvar="VMI_USERS_FILE", help=USERS_HELP)] = Path(
        "users.json"
    ),
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Add a user (or replace its role and password); asks for the password twice."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            typer.echo("vmi: the passwords differ", err=True)
            raise typer.Exit(2)
    try:
        user = add_user(users, name, role, password, dealer_id=dealer)
    except UsersError as exc:
        typer.echo(f"vmi: {exc}", err=True)
        raise typer.Exit(2) from None
    where = f" for dealer {user.dealer_id}" if user.dealer_id else ""
    typer.echo(f"user {user.name} ({user.role}{where}) saved in {users}")


def serve_web(
    out: Annotated[Path, typer.Option(envvar="VMI_OUT", help="Output folder of the runs.")],
    users: Annotated[Path, typer.Option(envvar="VMI_USERS_FILE", help=USERS_HELP)] = Path(
        "users.json"
    ),
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
    trusted_header: Annotated[
        str | None,
        typer.Option(help="Opt-in SSO: a reverse proxy's header naming the user."),
    ] = None,
    secure_cookies: Annotated[
        bool, typer.Option(help="Session cookie over HTTPS only (set behind TLS).")
    ] = False,
) -> None:
    """Serve the planner workbench (the runs, their lines, approval) and the dealer portal
    (a dealer user's own stock cover, shipments, lines, scorecard and files) with uvicorn."""
    from web.app import create_app
    from web.settings import WebSettings

    if not users.exists() and not trusted_header:
        typer.echo(
            f"vmi: {users} does not exist: add a user first (vmi users add NAME --role planner"
            f" --users {users})",
            err=True,
        )
        raise typer.Exit(2)
    settings = WebSettings(
        out=out,
        users_file=users,
        secret_key=os.environ.get("VMI_WEB_SECRET") or None,
        trusted_header=trusted_header,
        secure_cookies=secure_cookies,
    )
    config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning")
    url = f"http://{host}:{port}/"
    ReadyServer(
        config,
        on_ready=lambda: typer.echo(f"workbench ready on {url} (runs in {out}; Ctrl-C stops it)"),
    ).run()

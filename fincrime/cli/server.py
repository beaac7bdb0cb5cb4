"""``fincrime serve`` (API and console) and ``fincrime users ...`` (accounts and API tokens)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import typer
from rich.table import Table

from fincrime.cases.db import Casework
from fincrime.cli.common import console, console_err
from fincrime.errors import InputError
from fincrime.workspace import Workspace

users_app = typer.Typer(
    help="Console and API accounts in FINCRIME_HOME/casework.sqlite.\n\n"
    "Example: fincrime users add ivy --role investigator --full-name 'Ivy Ng'",
    no_args_is_help=True,
)


def _size(text: str) -> int:
    from fincrime.jobs.spec import memory_mb

    mb = memory_mb(text)
    if not mb:
        raise InputError(f"{text!r}: expected a size such as 2g or 500m")
    return mb << 20


def _password(from_stdin: bool, prompt: str = "Password") -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass("Again: ") != first:
        raise InputError("the passwords differ")
    return first


def _users():
    from fincrime.cases.users import Users

    return Users(Casework.open(Workspace.from_env()))


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        input_dir: Path = typer.Option(Path("input"), "--input", "-i", help="Input folder (uploads land in INPUT/<dataset>/)."),
        output: Path = typer.Option(None, "--output", "-o", help="Output root (default ./output or FINCRIME_OUTPUT)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
        port: int = typer.Option(8080, "--port", "-p", min=1, max=65535, help="Port."),
        workers: int = typer.Option(2, "--workers", "-w", min=1, help="Jobs running at once."),
        no_watcher: bool = typer.Option(False, "--no-watcher", help="Do not run the folder watcher beside the server."),
        max_upload: str = typer.Option("2g", "--max-upload", help="Largest file accepted, e.g. 2g."),
        allow_host: list[str] = typer.Option([], "--allow-host", help="Another Host name clients use (reverse proxy)."),
        allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow a non-loopback --host."),
        secure_cookies: bool = typer.Option(False, "--secure-cookies", help="Mark cookies Secure (behind HTTPS)."),
        rentity_id: str = typer.Option("0", "--rentity-id", envvar="FINCRIME_RENTITY_ID", help="goAML reporting entity id."),
        rentity_name: str = typer.Option("Reporting institution", "--rentity-name", envvar="FINCRIME_RENTITY_NAME", help="Reporting institution's name."),
        currency: str = typer.Option("EUR", "--currency", envvar="FINCRIME_CURRENCY", help="Local currency (ISO 4217) of amounts."),
        country: str = typer.Option("ZZ", "--country", envvar="FINCRIME_COUNTRY", help="Country code (ISO 3166) for goAML."),
    ) -> None:
        """Serve the API and the investigator console, with the folder watcher beside them.

        Example: fincrime serve --port 8080   (then open http://127.0.0.1:8080/)
        """
        import uvicorn

        from fincrime.cases.export import ReportingEntity
        from fincrime.cases.users import Users
        from fincrime.server.app import create_app
        from fincrime.server.config import ServerConfig, is_loopback

        if not is_loopback(host) and not allow_remote:
            raise InputError(f"--host {host}: not a loopback address; add --allow-remote (and serve it behind HTTPS)")
        workspace = Workspace.from_env(output)
        config = ServerConfig(
            workspace=workspace, input_dir=input_dir, host=host, port=port, workers=workers,
            run_watcher=not no_watcher, max_file_bytes=_size(max_upload), allowed_hosts=tuple(allow_host),
            secure_cookies=secure_cookies,
            entity=ReportingEntity(rentity_id=rentity_id, name=rentity_name, currency=currency.upper(), country=country.upper()),
        )
        with Casework.open(workspace) as cw:
            if not Users(cw).list():
                console_err.print("note: no users yet; add one with `fincrime users add NAME --role admin`")
        console.print(f"fincrime console on http://{host}:{port}/  (API: /api, OpenAPI: /api/openapi.json)")
        console.print(f"input {config.input_dir} -> output {workspace.output_root}, home {workspace.home}")
        uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False,
                    timeout_graceful_shutdown=10, server_header=False)

    @users_app.command("add")
    def add_cmd(
        username: str = typer.Argument(..., help="Login name: lower-case letters, digits, '.', '_', '-'."),
        role: str = typer.Option(..., "--role", "-r", help="investigator, reviewer or admin."),
        full_name: str = typer.Option("", "--full-name", help="Shown in the console and in goAML reports."),
        email: str = typer.Option("", "--email", help="E-mail (goAML reporting person)."),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    ) -> None:
        """Add a user; asks for the password (or reads it with --password-stdin).

        Example: echo 's3cret-passphrase' | fincrime users add rex --role reviewer --password-stdin
        """
        user = _users().add(username, role, _password(password_stdin), full_name=full_name, email=email)
        console.print(f"added {user.username} ({user.role})")

    @users_app.command("list")
    def list_cmd() -> None:
        """List users and their roles.

        Example: fincrime users list
        """
        table = Table("user", "name", "e-mail", "role", "state")
        for u in _users().list():
            table.add_row(u.username, u.full_name, u.email, u.role, "disabled" if u.disabled else "active")
        console.print(table)

    @users_app.command("passwd")
    def passwd_cmd(username: str = typer.Argument(...),
                   password_stdin: bool = typer.Option(False, "--password-stdin", help="Read it from standard input.")) -> None:
        """Set a user's password (ends their sessions).

        Example: fincrime users passwd ivy
        """
        _users().set_password(username, _password(password_stdin, "New password"))
        console.print(f"password of {username} changed")

    @users_app.command("role")
    def role_cmd(username: str = typer.Argument(...), role: str = typer.Argument(..., help="investigator, reviewer or admin.")) -> None:
        """Change a user's role.

        Example: fincrime users role ivy reviewer
        """
        _users().set_role(username, role)
        console.print(f"{username} is now {role}")

    @users_app.command("disable")
    def disable_cmd(username: str = typer.Argument(...),
                    enable: bool = typer.Option(False, "--enable", help="Enable the user again.")) -> None:
        """Disable a user (sessions end, tokens are revoked), or enable again.

        Example: fincrime users disable ian
        """
        _users().set_disabled(username, not enable)
        console.print(f"{username} {'enabled' if enable else 'disabled'}")

    @users_app.command("token")
    def token_cmd(username: str = typer.Argument(...),
                  name: str = typer.Option("api", "--name", help="What the token is for."),
                  days: float = typer.Option(None, "--days", min=0.01, help="Expires after this many days.")) -> None:
        """Create an API token (printed once; only its hash is stored).

        Example: curl -H "Authorization: Bearer $(fincrime users token ivy --name ci)" http://127.0.0.1:8080/api/jobs
        """
        typer.echo(_users().create_token(username, name, days=days))

    @users_app.command("tokens")
    def tokens_cmd(username: str = typer.Argument(None)) -> None:
        """List API tokens (ids, not secrets).

        Example: fincrime users tokens ivy
        """
        table = Table("id", "user", "name", "created", "last used", "revoked")
        for t in _users().tokens(username):
            table.add_row(t["id"], t["username"], t["name"], t["created_at"][:19], (t["last_used_at"] or "")[:19],
                          (t["revoked_at"] or "")[:19])
        console.print(table)

    @users_app.command("revoke")
    def revoke_cmd(token_id: str = typer.Argument(..., help="Token id (see `fincrime users tokens`).")) -> None:
        """Revoke an API token.

        Example: fincrime users revoke 3f2a9c01d4e5
        """
        _users().revoke_token(token_id)
        console.print(f"token {token_id} revoked")

    @users_app.command("audit")
    def audit_cmd(object: str = typer.Option(None, "--object", help="Only this object, e.g. alert:12."),
                  limit: int = typer.Option(50, "--limit", min=1), verify: bool = typer.Option(False, "--verify",
                  help="Check the trail's hash chain and exit 1 if it was changed.")) -> None:
        """Show the audit trail of casework (logins, alerts, cases, uploads), newest first.

        Example: fincrime users audit --object case:3
        """
        cw = _users().cw
        if verify:
            bad = cw.verify_audit()
            if bad is not None:
                console_err.print(f"audit trail changed at entry {bad}")
                raise typer.Exit(1)
            console.print("audit trail intact")
            return
        table = Table("#", "time", "who", "what", "object", "details")
        for e in cw.audit_trail(obj=object, limit=limit):
            table.add_row(str(e.seq), e.at[:19], e.actor, e.action, e.object, str(e.detail)[:80])
        console.print(table)

    app.add_typer(users_app, name="users")

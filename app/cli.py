"""The ``carillon`` command: run the whole product, and the operator's admin tasks."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import click

ROOT = pathlib.Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


def _prepare(embedded: bool = True):
    from dotenv import load_dotenv

    load_dotenv(ROOT / ".env", override=False)
    services = None
    if embedded:
        from app.embedded import ensure_environment

        services = ensure_environment(VAR)
    return services


def _app_context():
    from app import create_app

    return create_app().app_context()


@click.group()
def main() -> None:
    """Carillon contact-centre CRM."""


# The web server's two pools of gunicorn workers, same application:
# - web: the screens and their server-sent event streams, on gevent (a stream holds
#   its connection for as long as the page is open);
# - api: the public APIs, on threads: at most API_THREADS requests at once per
#   process (within the database pool, so no connection is opened or closed under
#   load), a burst waits in the listen backlog, and idle keep-alive connections hold
#   no thread.
API_THREADS = 4
POOLS = {
    "web": ["-k", "gevent", "--worker-connections", "1000"],
    "api": ["-k", "gthread", "--threads", str(API_THREADS)],
}


def gunicorn_argv(pool: str, bind: str, workers: int, *extra: str) -> list[str]:
    """The command line of one pool of the web server."""
    return [sys.executable, "-m", "gunicorn", *POOLS[pool], "-w", str(workers), "-b", bind,
            "--graceful-timeout", "5", *extra, "app.wsgi:create()"]


@main.command()
@click.option("--pool", type=click.Choice(sorted(POOLS)), default="web", show_default=True,
              help="web: screens and event streams (gevent); api: the public APIs (threads).")
@click.option("--bind", default="127.0.0.1:5000", show_default=True)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(pool: str, bind: str, workers: int) -> None:
    """Run one pool of the web server (gunicorn), as in production."""
    _prepare(embedded=False)
    argv = gunicorn_argv(pool, bind, workers)
    os.execv(argv[0], argv)


@main.command()
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--api-port", default=None, type=int, help="The API pool's port [default: port + 1].")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--workers", default=2, show_default=True, type=int)
def up(port: int, api_port: int | None, host: str, workers: int) -> None:
    """Run everything on this machine: database and Redis (embedded when no URL is
    set), migrations, demo data, web server (both pools), job worker and scheduler."""
    api_port = api_port or port + 1
    services = _prepare()
    os.environ.setdefault("BASE_URL", f"http://{host}:{port}")
    if host in ("127.0.0.1", "localhost"):
        # plain HTTP on loopback for development; production keeps Secure cookies
        os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
    os.environ.setdefault("MAIL_BACKEND", "file")
    os.environ.setdefault("MAIL_FILE_DIR", str(VAR / "mail"))
    from app.migrate import upgrade

    upgrade(os.environ["DATABASE_URL"])
    from tenants.demo import demo_password, seed_demo

    password = demo_password(VAR)
    with _app_context():
        from app.extensions import Session

        logins = seed_demo(password)
        Session.commit()
    children = [
        subprocess.Popen(gunicorn_argv("web", f"{host}:{port}", workers, "--access-logfile", "-"), cwd=ROOT),
        subprocess.Popen(gunicorn_argv("api", f"{host}:{api_port}", workers), cwd=ROOT),
        subprocess.Popen([sys.executable, "-m", "dramatiq", "jobs", "--processes", "1", "--threads", "4"], cwd=ROOT),
        subprocess.Popen([str(pathlib.Path(sys.executable).with_name("periodiq")), "jobs"], cwd=ROOT),
        # the demo tenant's campaigns run on the simulated call-control backend
        subprocess.Popen([sys.executable, "-m", "telephony.dialer", "--tenant", "demo"], cwd=ROOT),
    ]
    click.echo("")
    click.echo(f"Carillon is running on http://{host}:{port} (APIs: http://{host}:{api_port}/api/)")
    click.echo(f"Logins (password: {password}):")
    for login in logins:
        click.echo(f"  {login.email:38} {login.role:11} level {login.level}")
    click.echo(f"Emails are written to {os.environ['MAIL_FILE_DIR']}. Press Ctrl-C to stop.")
    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
        for child in children:
            if child.poll() is not None:
                click.echo(f"{' '.join(map(str, child.args[:4]))} exited with {child.returncode}", err=True)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if services is not None:
            services.stop()
        click.echo("Carillon stopped.")


@main.command()
def migrate() -> None:
    """Apply the database migrations."""
    _prepare()
    from app.migrate import upgrade

    upgrade(os.environ["DATABASE_URL"])
    click.echo("migrations applied")


@main.command("create-platform-admin")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.password_option()
def create_platform_admin(email: str, name: str, password: str) -> None:
    """Create a level-10 platform administrator."""
    _prepare()
    with _app_context():
        from app.auth.models import Role
        from app.auth.services import create_user, email_taken
        from app.extensions import Session
        from tenants.scoping import unscoped

        if email_taken(email):
            raise click.ClickException(f"{email} already has an account")
        with unscoped():
            create_user(email=email, display_name=name, password=password, role=Role.ADMIN, level=10)
        Session.commit()
    click.echo(f"platform admin {email} created")


@main.command("create-tenant")
@click.option("--name", required=True)
@click.option("--country", default="FR", show_default=True)
@click.option("--timezone", default="Europe/Paris", show_default=True)
@click.option("--admin-email", required=True)
@click.option("--admin-name", required=True)
@click.password_option("--admin-password")
def create_tenant_cmd(name: str, country: str, timezone: str, admin_email: str, admin_name: str,
                      admin_password: str) -> None:
    """Create a tenant (active, verified admin) under the platform's direct reseller."""
    _prepare()
    with _app_context():
        from app.auth.services import email_taken
        from app.extensions import Session
        from tenants.models import TenantStatus
        from tenants.scoping import unscoped
        from tenants.services import signup_tenant

        if email_taken(admin_email):
            raise click.ClickException(f"{admin_email} already has an account")
        with unscoped():  # operator task: creates rows of a tenant that is not in scope
            tenant, admin = signup_tenant(company=name, country=country, timezone=timezone,
                                          admin_name=admin_name, email=admin_email, password=admin_password)
            tenant.status = TenantStatus.ACTIVE
            admin.email_verified = True
            Session.commit()
        click.echo(f"tenant {tenant.slug} (id {tenant.id}) created with admin {admin.email}")


@main.command("create-api-key")
@click.option("--tenant", "tenant_slug", required=True, help="The tenant's slug.")
@click.option("--name", required=True, help="Where the key will be used.")
@click.option("--scope", type=click.Choice(["write", "read"]), default="write", show_default=True)
def create_api_key_cmd(tenant_slug: str, name: str, scope: str) -> None:
    """Create a lead-import / REST API key for a tenant and print it (shown once)."""
    _prepare()
    with _app_context():
        import sqlalchemy as sa

        from app.api.keys import create_api_key
        from app.api.models import ApiScope
        from app.extensions import Session
        from tenants.models import Tenant
        from tenants.scoping import tenant_scope

        tenant = Session.scalar(sa.select(Tenant).where(Tenant.slug == tenant_slug))
        if tenant is None:
            raise click.ClickException(f"no tenant with slug {tenant_slug}")
        with tenant_scope(tenant.id):
            issued = create_api_key(name, ApiScope(scope))
            Session.commit()
    click.echo(f"API key {name!r} for {tenant_slug} ({scope}); it is stored hashed and shown only now:")
    click.echo(issued.secret)


if __name__ == "__main__":
    main()

import sqlalchemy as sa
from click.testing import CliRunner

from app.auth.models import User
from app.cli import main
from app.extensions import Session
from tenants.models import Tenant
from tenants.scoping import unscoped


def test_cli_creates_tenant_and_platform_admin(app, db):
    runner = CliRunner()
    result = runner.invoke(main, ["create-tenant", "--name", "Delta Ventes", "--admin-email", "chef@delta.fr",
                                  "--admin-name", "Chef", "--admin-password", "Delta-pass-2026"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["create-platform-admin", "--email", "ops@carillon-ops.fr", "--name", "Ops",
                                  "--password", "Ops-pass-20266"])
    assert result.exit_code == 0, result.output
    with unscoped():
        tenant = Session.scalars(sa.select(Tenant)).one()
        users = {u.email: u for u in Session.scalars(sa.select(User))}
    assert tenant.status == "active"
    assert users["chef@delta.fr"].tenant_id == tenant.id and users["chef@delta.fr"].email_verified
    assert users["ops@carillon-ops.fr"].is_platform_admin
    again = runner.invoke(main, ["create-tenant", "--name", "X", "--admin-email", "CHEF@delta.fr",
                                 "--admin-name", "X", "--admin-password", "Delta-pass-2026"])
    assert again.exit_code != 0 and "already has an account" in again.output

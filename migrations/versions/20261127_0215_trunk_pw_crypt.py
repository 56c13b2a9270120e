"""trunks: the digest password stored encrypted (app.core.credentials)

Revision ID: 20261127_0215_trunk_pw_crypt
Revises: 20261127_0140_manual_list
"""

import sqlalchemy as sa
from alembic import op

from app.core.credentials import decrypt, encrypt

revision = "20261127_0215_trunk_pw_crypt"
down_revision = "20261127_0140_manual_list"
branch_labels = None
depends_on = None


def _rewrite(convert) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, password FROM trunks WHERE password IS NOT NULL")).all()
    for trunk_id, value in rows:
        bind.execute(sa.text("UPDATE trunks SET password = :p WHERE id = :id"), {"p": convert(value), "id": trunk_id})


def upgrade() -> None:
    op.alter_column("trunks", "password", type_=sa.Text(), existing_type=sa.String(128), existing_nullable=True)
    _rewrite(encrypt)


def downgrade() -> None:
    _rewrite(decrypt)
    op.alter_column("trunks", "password", type_=sa.String(128), existing_type=sa.Text(), existing_nullable=True)

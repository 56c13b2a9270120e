"""merge the feature branches into one history

Revision ID: 20261126_2000_merge
Revises: 20261126_1500_api, 20261126_1700_agent, 20261126_1800_reports, 20261126_1900_recordings
"""

revision = "20261126_2000_merge"
down_revision = ("20261126_1500_api", "20261126_1700_agent", "20261126_1800_reports", "20261126_1900_recordings")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

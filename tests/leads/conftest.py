from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.campaigns.models import Campaign
from app.extensions import Session
from app.leads.models import LeadList
from tenants.scoping import tenant_scope


@dataclass
class Setup:
    campaign_id: int
    list_id: int
    other_list_id: int


def make_lists(tenant_id: int, prefix: str) -> Setup:
    with tenant_scope(tenant_id):
        campaign = Campaign(name=f"{prefix} Prospection")
        Session.add(campaign)
        Session.flush()
        first = LeadList(campaign_id=campaign.id, name=f"{prefix} fichier 1")
        second = LeadList(campaign_id=campaign.id, name=f"{prefix} fichier 2")
        Session.add_all([first, second])
        Session.flush()
        setup = Setup(campaign.id, first.id, second.id)
        Session.commit()
    return setup


@pytest.fixture()
def lists(world):
    """A campaign with two lists in each tenant: ``lists["a"]`` and ``lists["b"]``."""
    return {"a": make_lists(world.a.id, "A"), "b": make_lists(world.b.id, "B")}


@pytest.fixture(autouse=True)
def import_dir(tmp_path, monkeypatch):
    """Uploaded files of each test go to its own directory."""
    path = tmp_path / "imports"
    monkeypatch.setenv("LEADS_IMPORT_DIR", str(path))
    return path

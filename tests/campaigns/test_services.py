"""Campaign services: defaults, statuses, pause codes, hours, activation, clone, archive."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.campaigns import services
from app.campaigns.models import Campaign, CampaignStatus, PauseCode
from app.extensions import Session
from app.leads.models import LeadList
from tenants.scoping import tenant_scope


def test_new_campaign_gets_defaults(world):
    with tenant_scope(world.a.id):
        campaign = services.create_campaign("Mutuelle Santé")
        codes = {s.code: s for s in campaign.statuses}
        assert {"VT", "RP", "RF", "REP", "INJ"} <= set(codes)
        assert {"NRP", "OCC", "CNG", "AMD", "ABD", "NI", "DNC"} <= {c for c, s in codes.items() if s.system}
        assert codes["VT"].sale and codes["RP"].callback and codes["RF"].not_interested
        assert codes["REP"].answering_machine and codes["RF"].final
        assert all(2 <= len(code) <= 3 for code in codes)
        assert [p.code for p in campaign.pause_codes] == ["PAUSE", "REPAS", "FORMATION", "REUNION", "TECHNIQUE",
                                                         "SANITAIRE"]
        assert campaign.active is False
        assert campaign.attempt_limit == 4 and campaign.abandon_target == pytest.approx(0.03)
        assert campaign.calling_hours[0] == [(dt.time(10), dt.time(13)), (dt.time(14), dt.time(20))]
        assert 5 not in campaign.calling_hours


def test_campaign_names_are_unique_per_tenant(world):
    with tenant_scope(world.a.id):
        services.create_campaign("Énergie")
        with pytest.raises(services.CampaignError) as error:
            services.create_campaign(" énergie ")
        assert error.value.field == "name"
    with tenant_scope(world.b.id):
        assert services.create_campaign("Énergie").id  # another tenant may use the name


def test_status_code_clash_and_format(world):
    with tenant_scope(world.a.id):
        campaign = services.create_campaign("Clash")
        before = len(campaign.statuses)
        with pytest.raises(services.CampaignError, match="VT"):
            services.add_status(campaign, "vt", "Vente bis", "commercial", [])
        with pytest.raises(services.CampaignError):
            services.add_status(campaign, "ABCD", "Trop long", "commercial", [])
        with pytest.raises(services.CampaignError, match="RDV"):
            services.add_status(campaign, "rdv", "Rendez-vous 2", "commercial", ["sale"])
        Session.expire(campaign, ["statuses"])
        assert len(campaign.statuses) == before


def test_add_update_delete_status(world):
    with tenant_scope(world.a.id):
        campaign = services.create_campaign("Statuts")
        status = services.add_status(campaign, "pr", "Promesse", "commercial", ["callback"])
        assert status.code == "PR" and status.callback
        services.update_status(status, "PRO", "Promesse ferme", "commercial", ["sale"])
        assert (status.code, status.sale, status.callback) == ("PRO", True, False)
        with pytest.raises(services.CampaignError):
            services.update_status(status, "VT", "x", "commercial", [])
        system = services.status_by_code(campaign, "NRP")
        with pytest.raises(services.CampaignError):
            services.delete_status(system)
        with pytest.raises(services.CampaignError):
            services.update_status(system, "NR", "x", "system", [])
        services.delete_status(status)
        assert services.status_by_code(campaign, "PRO") is None


def test_pause_codes_and_mode(world):
    with tenant_scope(world.a.id):
        campaign = services.create_campaign("Pauses")
        services.add_pause_code(campaign, "brief", "Brief équipe")
        with pytest.raises(services.CampaignError):
            services.add_pause_code(campaign, "REPAS", "Encore")
        services.set_pause_mode(campaign, "mandatory")
        assert campaign.pause_mode == "mandatory"
        for pause in list(campaign.pause_codes):
            services.delete_pause_code(pause)
        Session.expire(campaign, ["pause_codes"])
        with pytest.raises(services.CampaignError):
            services.set_pause_mode(campaign, "mandatory")


@pytest.mark.parametrize("hours", [
    {"0": [["13:00", "10:00"]]},
    {"1": [["10:00", "10:00"]]},
    {"2": [["10:00", "13:00"], ["12:00", "15:00"]]},
])
def test_invalid_hours_are_refused(world, hours):
    with tenant_scope(world.a.id):
        with pytest.raises(services.CampaignError):
            services.create_campaign("Horaires", {"hours_data": hours})
        Session.rollback()


def test_activation_needs_an_active_list(world):
    with tenant_scope(world.a.id):
        campaign = services.create_campaign("Sans liste")
        with pytest.raises(services.CampaignError) as error:
            services.set_campaign_active(campaign, True)
        assert error.value.field == "active"
        lead_list = LeadList(campaign_id=campaign.id, name="Fichier", active=False)
        Session.add(lead_list)
        Session.flush()
        with pytest.raises(services.CampaignError):
            services.set_campaign_active(campaign, True)
        services.set_active_lists(campaign, [lead_list.id])
        services.set_campaign_active(campaign, True)
        assert campaign.active


def test_clone_copies_settings_statuses_pauses_and_agents(world):
    with tenant_scope(world.a.id):
        source = services.create_campaign("Source", {"dial_mode": "AUTOMATIQUE2", "dids": ["+33162000001"],
                                                     "dial_speed": 7})
        services.add_status(source, "XY", "Spécial", "technical", ["final"])
        agent = world.a.users["agent"]
        services.set_assignments(source, [agent.id], [world.a.group.id])
        copy = services.clone_campaign(source, "Copie")
        assert (copy.dial_mode, copy.dids, copy.dial_speed, copy.active) == ("AUTOMATIQUE2", ["+33162000001"], 7, False)
        assert [s.code for s in copy.statuses] == [s.code for s in source.statuses]
        assert len(copy.pause_codes) == len(source.pause_codes)
        assert services.assigned_agent_ids(copy) == [agent.id]
        assert services.assigned_group_ids(copy) == [world.a.group.id]
        assert agent.id in [u.id for u in services.campaign_agents(copy)]
        with pytest.raises(services.CampaignError):
            services.clone_campaign(source, "copie")


def test_assignments_ignore_other_tenant_ids(world):
    with tenant_scope(world.a.id):
        campaign = services.create_campaign("Affectation")
        services.set_assignments(campaign, [world.b.users["agent"].id], [world.b.group.id])
        assert services.assigned_agent_ids(campaign) == []
        assert services.assigned_group_ids(campaign) == []


def test_archive_and_restore(world):
    with tenant_scope(world.a.id):
        campaign = services.create_campaign("Archivée")
        campaign.active = True
        services.archive_campaign(campaign)
        assert campaign.archived and not campaign.active
        with pytest.raises(services.CampaignError):
            services.set_campaign_active(campaign, True)
        services.restore_campaign(campaign)
        assert not campaign.archived


def test_deleting_a_campaign_cascades(world):
    with tenant_scope(world.a.id):
        campaign = services.create_campaign("Éphémère")
        campaign_id = campaign.id
        Session.delete(campaign)
        Session.flush()
        assert Session.scalar(sa.select(sa.func.count()).select_from(CampaignStatus)
                              .where(CampaignStatus.campaign_id == campaign_id)) == 0
        assert Session.scalar(sa.select(sa.func.count()).select_from(PauseCode)
                              .where(PauseCode.campaign_id == campaign_id)) == 0
        assert Session.get(Campaign, campaign_id) is None

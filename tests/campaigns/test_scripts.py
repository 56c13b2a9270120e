"""Scripts: validation, versioning, rendering, answers."""

from __future__ import annotations

import uuid

import pytest

from app.campaigns import scripts
from app.campaigns.models import ScriptAnswer
from app.extensions import Session
from app.leads.models import CustomField, Lead
from tenants.scoping import tenant_scope

CONTENT = {"pages": [
    {"key": "p1", "title": "Présentation", "blocks": [
        {"type": "text", "text": "Bonjour **{first_name}** {last_name},\n\nvous chauffez au {heating} ?"},
        {"type": "question", "key": "owner", "label": "Propriétaire ?", "answer_type": "yes_no",
         "branches": [{"answer": "no", "page": "p2"}]},
        {"type": "question", "key": "energy", "label": "Énergie", "answer_type": "choice",
         "choices": ["Fioul", "Gaz"], "branches": [{"answer": "Gaz", "page": "p2"}]},
        {"type": "question", "key": "visit", "label": "Date de visite", "answer_type": "date"},
        {"type": "button", "label": "Vente", "status": "vt"},
    ]},
    {"key": "p2", "title": "Fin", "blocks": [{"type": "text", "text": "Merci {first_name}."}]},
]}


@pytest.fixture()
def script(world):
    with tenant_scope(world.a.id):
        Session.add(CustomField(key="heating", label="Chauffage"))
        Session.flush()
        made = scripts.create_script("Rénovation")
        scripts.save_draft(made, CONTENT)
        Session.commit()
        yield made


def test_unknown_placeholder_is_a_clear_error(world, script):
    with tenant_scope(world.a.id):
        bad = {"pages": [{"key": "p1", "title": "T", "blocks": [{"type": "text", "text": "Hi {prenom} {first_name}"}]}]}
        with pytest.raises(scripts.ScriptError) as error:
            scripts.save_draft(script, bad)
        assert any("{prenom}" in str(message) for message in error.value.errors)
        assert scripts.latest_version(script).content["pages"][0]["title"] == "Présentation"
    with tenant_scope(world.b.id):
        # the custom field belongs to tenant A only
        assert "heating" not in scripts.known_placeholders()


def test_structure_errors(world, script):
    with tenant_scope(world.a.id):
        placeholders = scripts.known_placeholders()
        assert scripts.validate_content({"pages": []}, placeholders)
        branch_to_nowhere = {"pages": [{"key": "p1", "title": "T", "blocks": [
            {"type": "question", "key": "q1", "label": "Q", "answer_type": "yes_no",
             "branches": [{"answer": "yes", "page": "p9"}]}]}]}
        assert scripts.validate_content(branch_to_nowhere, placeholders)
        duplicate = {"pages": [{"key": "p1", "title": "T", "blocks": [
            {"type": "question", "key": "q1", "label": "Q", "answer_type": "text"},
            {"type": "question", "key": "q1", "label": "R", "answer_type": "text"}]}]}
        assert scripts.validate_content(duplicate, placeholders)
        one_choice = {"pages": [{"key": "p1", "title": "T", "blocks": [
            {"type": "question", "key": "q1", "label": "Q", "answer_type": "choice", "choices": ["A"]}]}]}
        assert scripts.validate_content(one_choice, placeholders)
        assert scripts.validate_content(scripts.normalise_content(CONTENT), placeholders) == []


def test_published_versions_are_immutable(world, script):
    with tenant_scope(world.a.id):
        first = scripts.publish_script(script)
        assert first.number == 1 and first.published
        with pytest.raises(scripts.ScriptError):
            scripts.publish_script(script)  # nothing new to publish
        changed = scripts.normalise_content(CONTENT)
        changed["pages"][1]["title"] = "Conclusion"
        draft = scripts.save_draft(script, changed)
        assert draft.number == 2 and not draft.published
        assert first.content["pages"][1]["title"] == "Fin"
        assert scripts.published_version(script).id == first.id
        second = scripts.publish_script(script)
        assert scripts.published_version(script).id == second.id


def test_render_script_fills_and_escapes(world, script):
    with tenant_scope(world.a.id):
        lead = Lead(first_name="<b>Léa</b>", last_name="Bernard", phone_number="+33612345678",
                    vendor_lead_code="x", custom={"heating": "gaz"})
        rendered = scripts.render_script(scripts.latest_version(script), lead)
        html = str(rendered.pages[0].blocks[0].html)
        assert "<strong><span class=\"script-var\">&lt;b&gt;Léa&lt;/b&gt;</span></strong>" in html
        assert "gaz" in html and html.count("<p>") == 2
        question = rendered.pages[0].blocks[1]
        assert question.branch_map == {"no": "p2"} and rendered.page_title("p2") == "Fin"
        assert rendered.pages[0].blocks[4].status == "VT"


def test_save_answers_per_call_and_version(world, script):
    with tenant_scope(world.a.id):
        version = scripts.publish_script(script)
        call_id = uuid.uuid4()
        scripts.save_answers(call_id, version, {"owner": "yes", "energy": "Gaz"})
        row = scripts.save_answers(call_id, version, {"visit": "2026-12-03"})
        assert row.answers == {"owner": True, "energy": "Gaz", "visit": "2026-12-03"}
        assert Session.get(ScriptAnswer, call_id).script_version_id == version.id
        assert scripts.next_page(version, "owner", False) == "p2"
        assert scripts.next_page(version, "energy", "Fioul") is None
        for bad in ({"energy": "Bois"}, {"visit": "demain"}, {"unknown": "x"}, {"owner": "peut-être"}):
            with pytest.raises(scripts.ScriptError):
                scripts.save_answers(uuid.uuid4(), version, bad)
        scripts.save_draft(script, CONTENT)
        second = scripts.publish_script(script)
        with pytest.raises(scripts.ScriptError):
            scripts.save_answers(call_id, second, {"owner": "no"})
        draft = scripts.save_draft(script, CONTENT)
        with pytest.raises(scripts.ScriptError):
            scripts.save_answers(uuid.uuid4(), draft, {"owner": "no"})


def test_script_buttons_missing_from_a_campaign(world, script):
    from app.campaigns import services

    with tenant_scope(world.a.id):
        version = scripts.publish_script(script)
        campaign = services.create_campaign("Avec script", {"script_id": script.id})
        codes = {status.code for status in campaign.statuses}
        assert scripts.missing_status_codes(version, codes) == []
        services.delete_status(services.status_by_code(campaign, "VT"))
        Session.expire(campaign, ["statuses"])
        assert scripts.missing_status_codes(version, {s.code for s in campaign.statuses}) == ["VT"]


def test_database_refuses_to_change_a_published_version(world, script):
    import sqlalchemy as sa

    with tenant_scope(world.a.id):
        version = scripts.publish_script(script)
        Session.commit()
        with pytest.raises(sa.exc.DBAPIError, match="is published and cannot change"):
            Session.execute(sa.text("UPDATE script_versions SET content = '{}'::jsonb WHERE id = :id"),
                            {"id": version.id})
        Session.rollback()

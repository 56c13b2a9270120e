"""The demo platform: one reseller, one tenant with a user of each role.

Idempotent: run at every ``carillon up``; the demo password is generated once per
install and kept under ./var (never committed)."""

from __future__ import annotations

import pathlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from app.auth.models import Role, User, UserGroup
from app.auth.services import create_user
from app.extensions import Session
from tenants import services
from tenants.models import Reseller, Tenant, TenantStatus
from tenants.scoping import tenant_scope, unscoped

DEMO_TENANT_SLUG = "demo"
DEMO_USERS = [
    ("ops@carillon-demo.fr", "Admin Plateforme", Role.ADMIN, 10, False),
    ("admin@carillon-demo.fr", "Alice Administratrice", Role.ADMIN, 9, True),
    ("manager@carillon-demo.fr", "Marc Manager", Role.MANAGER, 8, True),
    ("superviseur@carillon-demo.fr", "Sophie Superviseure", Role.SUPERVISOR, 7, True),
    ("agent@carillon-demo.fr", "Antoine Agent", Role.AGENT, 1, True),
    ("agent2@carillon-demo.fr", "Béatrice Vidal", Role.AGENT, 2, True),
    ("agent3@carillon-demo.fr", "Karim Benali", Role.AGENT, 2, True),
    ("agent4@carillon-demo.fr", "Chloé Martin", Role.AGENT, 1, True),
    ("agent5@carillon-demo.fr", "Hugo Lefèvre", Role.AGENT, 1, True),
    ("agent6@carillon-demo.fr", "Inès Moreau", Role.AGENT, 1, True),
]
DEMO_CAMPAIGN = "Démo Prospection"
# Leads across metropolitan France and the DOM, so that some are inside their legal
# calling window (D223-9, in the lead's own time zone) at more hours of the day.
DEMO_ZONES = [("75011", "Paris", "+3361"), ("69003", "Lyon", "+3362"), ("97400", "Saint-Denis", "+262692"),
              ("97110", "Pointe-à-Pitre", "+590690"), ("97200", "Fort-de-France", "+596696"),
              ("97300", "Cayenne", "+594694")]
# The demo campaign's script: a greeting with the lead's name, a qualifying question
# that branches, and buttons that set the disposition.
DEMO_SCRIPT = {"pages": [
    {"key": "accueil", "title": "Accueil", "blocks": [
        {"type": "text", "text": "Bonjour {first_name} {last_name}, ici Démo Télécom. "
                                 "Vous nous aviez laissé vos coordonnées pour une offre fibre : avez-vous "
                                 "deux minutes ?"},
        {"type": "question", "key": "disponible", "label": "Le contact est-il disponible ?",
         "answer_type": "yes_no", "branches": [{"answer": "yes", "page": "offre"}]},
        {"type": "button", "label": "Rappeler plus tard", "status": "RP"},
    ]},
    {"key": "offre", "title": "Offre", "blocks": [
        {"type": "text", "text": "La fibre à 29,99 € par mois la première année, installation offerte à "
                                 "{city}."},
        {"type": "question", "key": "operateur", "label": "Opérateur actuel", "answer_type": "choice",
         "choices": ["Orange", "SFR", "Bouygues", "Free", "Autre"]},
        {"type": "button", "label": "Vente conclue", "status": "VT"},
        {"type": "button", "label": "Pas intéressé", "status": "RF"},
    ]},
]}
FIRST_NAMES = ["Camille", "Lucas", "Manon", "Nathan", "Léa", "Hugo", "Chloé", "Louis", "Emma", "Jules"]
LAST_NAMES = ["Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent"]


@dataclass
class DemoLogin:
    email: str
    role: str
    level: int


def demo_password(var_dir: pathlib.Path) -> str:
    path = var_dir / "demo_password"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("demo-" + secrets.token_urlsafe(9))
        path.chmod(0o600)
    return path.read_text().strip()


def seed_demo(password: str) -> list[DemoLogin]:
    with unscoped():
        tenant = Session.scalar(sa.select(Tenant).where(Tenant.slug == DEMO_TENANT_SLUG))
        if tenant is None:
            platform = services.default_platform()
            direct = services.default_reseller()
            reseller = Session.scalar(sa.select(Reseller).where(Reseller.slug == "demo-revendeur"))
            if reseller is None:
                reseller = Reseller(name="Démo Revendeur", slug="demo-revendeur", platform_id=platform.id,
                                    parent_id=direct.id)
                Session.add(reseller)
                Session.flush()
            tenant = Tenant(name="Démo Centre d'appels", slug=DEMO_TENANT_SLUG, reseller_id=reseller.id,
                            status=TenantStatus.ACTIVE, plan_code="professionnel")
            Session.add(tenant)
            Session.flush()
    logins = []
    with tenant_scope(tenant.id):
        group = Session.scalar(sa.select(UserGroup).where(UserGroup.code == "VENTES"))
        if group is None:
            group = UserGroup(code="VENTES", name="Équipe ventes")
            Session.add(group)
            Session.flush()
        for email, name, role, level, in_tenant in DEMO_USERS:
            with unscoped():
                exists = Session.scalar(sa.select(User.id).where(User.email == email))
            if exists is None:
                scope = tenant_scope(tenant.id) if in_tenant else unscoped()
                with scope:
                    create_user(email=email, display_name=name, password=password, role=role, level=level,
                                group=group if in_tenant else None, tenant_id=tenant.id if in_tenant else None)
            logins.append(DemoLogin(email, str(role), level))
        seed_demo_campaign()
        seed_demo_inbound()
    return logins


def seed_demo_campaign(leads: int = 3000) -> None:
    """A predictive campaign with a list of consenting leads, driven by the dialer
    service's simulated backend."""
    import datetime as dt

    from app.campaigns.models import Campaign
    from app.campaigns.scripts import create_script, publish_script
    from app.campaigns.services import create_campaign, set_assignments
    from app.leads.models import Lead, LeadList

    if Session.scalar(sa.select(Campaign.id).where(Campaign.name == DEMO_CAMPAIGN)) is not None:
        return
    script = create_script("Démo — offre fibre", DEMO_SCRIPT)
    publish_script(script)
    campaign = create_campaign(DEMO_CAMPAIGN, {"dial_mode": "AUTOMATIQUE2", "caller_id": "+33162000000",
                                               "script_id": script.id,
                                               "dids": ["+33162000000", "+33270000000", "+33377000000",
                                                        "+33424000000", "+33568000000"], "local_presence": True})
    lead_list = LeadList(campaign_id=campaign.id, name="Fichier démo")
    Session.add(lead_list)
    Session.flush()
    consent_at = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    Session.add_all([
        Lead(list_id=lead_list.id, first_name=FIRST_NAMES[i % 10], last_name=LAST_NAMES[(i // 10) % 10],
             phone_number=f"{prefix}{i:0{(12 if prefix.startswith('+33') else 13) - len(prefix)}d}", postal_code=postal, city=city,
             vendor_lead_code=f"DEMO-{i:05d}", consent_source="formulaire web", consent_at=consent_at,
             consent_text="J'accepte d'être recontacté par téléphone", consent_proof=f"demo-{i}")
        for i in range(leads)
        for postal, city, prefix in [DEMO_ZONES[i % len(DEMO_ZONES)]]
    ])
    campaign.active = True
    # every demo agent may work the campaign (and the team through its group)
    agent_ids = Session.scalars(sa.select(User.id).where(User.role == Role.AGENT))
    group_ids = Session.scalars(sa.select(UserGroup.id))
    set_assignments(campaign, list(agent_ids), list(group_ids))
    Session.flush()


DEMO_QUEUE = "Démo Service client"
DEMO_IVR = "Démo Standard"
DEMO_DID = "+33170000000"


def seed_demo_inbound() -> None:
    """One number → one voice menu → one queue taken by the demo campaign's agents
    (blending); the simulated backend brings callers at random (about one a minute)."""
    from app.campaigns.models import Campaign
    from app.inbound import services as inbound
    from app.inbound.models import DestinationKind, InboundQueue

    if Session.scalar(sa.select(InboundQueue.id).where(InboundQueue.name == DEMO_QUEUE)) is not None:
        return
    campaign_id = Session.scalar(sa.select(Campaign.id).where(Campaign.name == DEMO_CAMPAIGN))
    goodbye = inbound.Destination(DestinationKind.MESSAGE, None, "carillon/demo-rappel.wav")
    queue = inbound.save_queue(None, DEMO_QUEUE, {
        "priority": 7, "max_wait_s": 90, "service_level_s": 20, "announce_position": True, "wrapup_s": 15,
        "simulated_per_hour": 60}, goodbye, [campaign_id] if campaign_id else [], [])
    to_queue = inbound.Destination(DestinationKind.QUEUE, queue.id)
    menu = inbound.save_ivr(None, DEMO_IVR, {"greeting_audio": "carillon/demo-accueil.wav", "timeout_s": 5,
                                             "max_retries": 2}, to_queue, [
        inbound.OptionSpec("1", "Service client", to_queue),
        inbound.OptionSpec("2", "Horaires", inbound.Destination(DestinationKind.MESSAGE, None,
                                                                "carillon/demo-horaires.wav")),
    ])
    inbound.save_did(None, DEMO_DID, {
        "label": "Numéro client", "hours": inbound.parse_hours(["08:30-19:00"] * 5 + ["09:00-12:00", ""]),
        "holiday_country": "FR"}, inbound.Destination(DestinationKind.IVR, menu.id),
        inbound.Destination(DestinationKind.MESSAGE, None, "carillon/demo-ferme.wav"))

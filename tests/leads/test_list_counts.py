"""The lists' lead counts kept by PostgreSQL triggers (migration ``lead_counts``):
they follow every way leads arrive, move and leave, per tenant, and the lists screen
reads them without counting the leads."""

import sqlalchemy as sa

from app.extensions import Session, engine
from app.leads import privacy, services, tasks
from app.leads.models import Lead, LeadList, LeadListCount
from tenants.scoping import tenant_scope
from tests.leads.helpers import import_file
from tests.leads.test_views import admin_client


def _kept(tenant_id: int) -> dict[int, int]:
    with tenant_scope(tenant_id):
        counts = {item.id: count for item, count in services.lists_with_counts()}
        Session.commit()
    return counts


def _real(owner_engine, tenant_id: int) -> dict[int, int]:
    with owner_engine.connect() as conn:
        lists = conn.execute(sa.text("SELECT id FROM lead_lists WHERE tenant_id = :t"), {"t": tenant_id}).scalars()
        counts = dict.fromkeys(lists, 0)
        counts.update(conn.execute(sa.text("SELECT list_id, count(*) FROM leads WHERE tenant_id = :t "
                                           "GROUP BY list_id"), {"t": tenant_id}).all())
    return counts


def test_counts_follow_inserts_moves_and_deletes(world, lists, owner_engine):
    a, b = lists["a"], lists["b"]
    import_file(world.a.id, a.list_id, "contacts_semicolon_utf8.csv")
    import_file(world.b.id, b.list_id, "contacts_semicolon_utf8.csv")
    assert _kept(world.a.id) == _real(owner_engine, world.a.id) == {a.list_id: 4, a.other_list_id: 0}
    # one contact created by hand, then everything moved, reset, deleted in bulk
    with tenant_scope(world.a.id):
        services.create_lead(Session.get(LeadList, a.other_list_id), {"last_name": "Nouveau",
                                                                      "phone_number": "0611223344"}, region="FR")
        Session.commit()
    assert _kept(world.a.id) == {a.list_id: 4, a.other_list_id: 1}
    with tenant_scope(world.a.id):
        ids = list(Session.scalars(sa.select(Lead.id).where(Lead.list_id == a.list_id).order_by(Lead.id)))
        target = Session.get(LeadList, a.other_list_id)
        assert services.move_leads(a.list_id, services.LeadFilter(), ids[:2], target) == 2
        services.reset_leads(a.other_list_id, services.LeadFilter(), None)  # an update that moves nothing
        Session.commit()
    assert _kept(world.a.id) == _real(owner_engine, world.a.id) == {a.list_id: 2, a.other_list_id: 3}
    with tenant_scope(world.a.id):
        services.delete_leads(a.other_list_id, services.LeadFilter(), ids[:1])
        privacy.erase_person(Session.get(Lead, ids[2]))
        Session.commit()
    assert _kept(world.a.id) == _real(owner_engine, world.a.id)
    # a replace import takes known contacts into the list it imports to
    import_file(world.a.id, a.other_list_id, "contacts_semicolon_utf8.csv", strategy="replace",
                dedup_scope="campaign")
    assert _kept(world.a.id) == _real(owner_engine, world.a.id)
    # a rolled back import leaves no count behind
    with tenant_scope(world.a.id):
        Session.execute(sa.insert(Lead).values(list_id=a.list_id, phone_number="+33600000000",
                                               vendor_lead_code="X", tenant_id=world.a.id))
        Session.rollback()
    assert _kept(world.a.id) == _real(owner_engine, world.a.id)
    # tenant B's lists never moved
    assert _kept(world.b.id) == _real(owner_engine, world.b.id) == {b.list_id: 4, b.other_list_id: 0}


def test_deleting_a_list_and_folding(world, lists, owner_engine):
    a = lists["a"]
    import_file(world.a.id, a.list_id, "contacts_semicolon_utf8.csv")
    import_file(world.a.id, a.other_list_id, "contacts_tab_noheader.txt", has_header=False,
                mapping={0: "last_name", 1: "first_name", 2: "phone_number"})
    import_file(world.b.id, lists["b"].list_id, "contacts_semicolon_utf8.csv")
    with tenant_scope(world.a.id):
        Session.delete(Session.get(LeadList, a.list_id))  # its leads go by cascade
        Session.commit()
    assert _kept(world.a.id) == _real(owner_engine, world.a.id) == {a.other_list_id: 2}
    with tenant_scope(world.a.id):
        services.delete_leads(a.other_list_id, services.LeadFilter(), None)
        Session.commit()
    with owner_engine.connect() as conn:
        rows_before = conn.execute(sa.text("SELECT count(*) FROM lead_list_counts")).scalar()
    tasks.fold_list_counts.fn()
    with owner_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT tenant_id, list_id, delta FROM lead_list_counts")).all()
    assert rows_before > len(rows)
    # one row per list left, none for a list back to zero; tenant B untouched
    assert rows == [(world.b.id, lists["b"].list_id, 4)]
    assert _kept(world.a.id) == {a.other_list_id: 0}
    assert _kept(world.b.id)[lists["b"].list_id] == 4


def test_count_rows_are_tenant_scoped(world, lists):
    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    with tenant_scope(world.b.id):
        assert Session.scalars(sa.select(LeadListCount)).all() == []
        Session.commit()
    # the application's own connection, tenant B set: row-level security hides A's rows
    with engine().begin() as conn:
        conn.execute(sa.text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(world.b.id)})
        assert conn.execute(sa.text("SELECT count(*) FROM lead_list_counts")).scalar() == 0


def test_lists_screen_does_not_count_the_leads(client, world, lists):
    import_file(world.a.id, lists["a"].list_id, "contacts_semicolon_utf8.csv")
    admin_client(client, world)
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(engine(), "before_cursor_execute", record)
    try:
        page = client.get("/leads/lists").get_data(as_text=True)
    finally:
        sa.event.remove(engine(), "before_cursor_execute", record)
    assert '<td class="num tabular">4</td>' in page
    assert seen and not [s for s in seen if " leads" in s.replace("\n", " ") and "lead_list_counts" not in s]

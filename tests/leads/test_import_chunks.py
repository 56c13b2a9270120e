"""The import streams its file in chunks (read in a background thread while
PostgreSQL matches and inserts the previous chunk): the outcome of every row must
not depend on where the chunks end, and a failure in any chunk keeps nothing."""

import random
import threading

import pytest
import sqlalchemy as sa

from app.extensions import Session
from app.leads import imports, tasks
from app.leads.models import ImportJob, ImportStatus, Lead
from tenants.scoping import tenant_scope
from tests.leads.helpers import DATA, import_file, upload

FIRST = ("Élodie", "élodie", "Loïc", "Zoé", "ZOÉ", "Jean")
LAST = ("Martin", "MARTIN", "Petit", "Dubois")


@pytest.fixture()
def data_file():
    """Writes a file next to the samples for one test; returns its name."""
    written = []

    def write(name, text, encoding="utf-8"):
        path = DATA / name
        path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
        written.append(path)
        return path.name

    yield write
    for path in written:
        path.unlink(missing_ok=True)


def _mixed_file(seed, rows):
    """Rows drawn from small pools, so that phones, emails and names repeat inside
    the file and match the leads already there; a few invalid phones."""
    rng = random.Random(seed)
    lines = ["Nom;Prénom;Téléphone;Email"]
    for _ in range(rows):
        phone = rng.choice(["12", "inconnu"]) if rng.random() < 0.05 else f"06 12 34 5{rng.randrange(150):03d}"
        email = rng.choice(["", "", f"p{rng.randrange(60)}@exemple.fr", f"P{rng.randrange(60)}@Exemple.fr"])
        lines.append(f"{rng.choice(LAST)}{rng.randrange(40)};{rng.choice(FIRST)};{phone};{email}")
    return "\n".join(lines) + "\n"


def _outcome(tenant_id, imp):
    with tenant_scope(tenant_id):
        leads = [(lead.list_id == imp.list_id, lead.phone_number, lead.first_name, lead.last_name, lead.email)
                 for lead in Session.scalars(sa.select(Lead).order_by(Lead.id))]
        rejects = [row[:2] for row in imports.iter_rejects(Session.get(ImportJob, imp.id))]
        Session.commit()
    return leads, rejects


@pytest.mark.parametrize("strategy", ["ignore", "merge", "replace"])
def test_chunk_boundaries_change_nothing(world, lists, data_file, monkeypatch, strategy):
    before = data_file("_chunks_before.csv", _mixed_file(1, 40))
    second = data_file("_chunks_second.csv", _mixed_file(2, 300))
    options = {"dedup_keys": ("phone", "email", "name"), "dedup_scope": "campaign", "strategy": strategy}
    results = []
    for tenant, chunk_rows in (("a", 100_000), ("b", 7)):
        tenant_id, setup = getattr(world, tenant).id, lists[tenant]
        monkeypatch.setattr(imports, "CHUNK_ROWS", chunk_rows)
        import_file(tenant_id, setup.list_id, before, mapping={0: "last_name", 1: "first_name", 2: "phone_number"})
        imp = import_file(tenant_id, setup.other_list_id, second,
                          mapping={0: "last_name", 1: "first_name", 2: "phone_number", 3: "email"}, **options)
        assert imp.status == ImportStatus.DONE
        results.append((imp.counts, *_outcome(tenant_id, imp)))
    (counts_a, leads_a, rejects_a), (counts_b, leads_b, rejects_b) = results
    # the file exercises every rule, across chunk boundaries in tenant B
    assert counts_a["invalid_total"] > 0 and counts_a["inserted"] > 0
    assert set(counts_a["duplicate_in_file"]) == {"phone", "email", "name", "existing"}
    assert set(counts_a["existing"]) == {"phone", "name"}
    assert counts_b == counts_a
    assert rejects_b == rejects_a
    assert leads_b == leads_a


def test_an_unreadable_row_after_inserted_chunks_keeps_nothing(world, lists, data_file, monkeypatch, owner_engine):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 50)
    good = "".join(f"Nom{n};06{n:08d}\n" for n in range(4000)).encode()
    name = data_file("_chunks_bad_byte.csv", b"Nom;Telephone\n" + good + b"Caf\xe9;0611111111\n" + good)
    imp = upload(world.a.id, lists["a"].list_id, name)
    with tenant_scope(world.a.id):
        imp = Session.get(ImportJob, imp.id)
        imports.apply_mapping(imp, imports.ImportOptions({0: "last_name", 1: "phone_number"}, True,
                                                         encoding="utf-8"), None)
        imports.mark_queued(imp, ImportStatus.QUEUED)
        Session.commit()
        inserted = []
        real_insert = imports._insert_new
        monkeypatch.setattr(imports, "_insert_new", lambda *a: inserted.append(real_insert(*a)) or inserted[-1])
        tasks.run_import.fn(imp.id)
        Session.commit()
        imp = Session.get(ImportJob, imp.id, populate_existing=True)
        assert (imp.status, imp.error) == (ImportStatus.FAILED, "encoding")
        Session.commit()
    assert sum(inserted) >= 1000  # chunks were inserted before the bad byte was read...
    with owner_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM leads")).scalar() == 0  # ...and rolled back
    assert not [t for t in threading.enumerate() if t.name == "import-reader"]


def test_a_failing_chunk_stops_the_reader(world, lists, data_file, monkeypatch, owner_engine):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 10)
    name = data_file("_chunks_many.csv", "Nom;Telephone\n" + "".join(f"Nom{n};06{n:08d}\n" for n in range(5000)))
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real_insert(*args)

    real_insert = imports._insert_new
    monkeypatch.setattr(imports, "_insert_new", failing)
    with pytest.raises(RuntimeError):
        import_file(world.a.id, lists["a"].list_id, name, mapping={0: "last_name", 1: "phone_number"})
    Session.rollback()
    assert len(calls) == 3
    assert not [t for t in threading.enumerate() if t.name == "import-reader"]
    with owner_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM leads")).scalar() == 0
        assert conn.execute(sa.text("SELECT status FROM lead_imports")).scalar() == ImportStatus.FAILED


def test_cells_with_copy_special_characters_arrive_unchanged(world, lists, data_file):
    name = data_file("_chunks_specials.csv", 'Nom;Prénom;Téléphone;Commentaire\n'
                     '"Dupont\tJr";Anne;0612345678;"C:\\dossier\\n°1\r\nligne 2"\n'
                     'Petit;Paul;0612345679;simple\n')
    imp = import_file(world.a.id, lists["a"].list_id, name,
                      mapping={0: "last_name", 1: "first_name", 2: "phone_number", 3: "comments"})
    assert imp.counts["inserted"] == 2
    with tenant_scope(world.a.id):
        leads = list(Session.scalars(sa.select(Lead).order_by(Lead.id)))
        assert (leads[0].last_name, leads[0].comments) == ("Dupont\tJr", "C:\\dossier\\n°1\r\nligne 2")
        assert (leads[1].last_name, leads[1].comments) == ("Petit", "simple")
        Session.commit()

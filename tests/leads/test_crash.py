"""N5: a worker killed in the middle of an import leaves no lead of the file, and the
redelivered job imports the whole file."""

import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from app.extensions import Session, engine
from app.leads import imports, tasks
from app.leads.models import ImportJob, ImportStatus, LeadList
from tenants.scoping import tenant_scope
from tests.leads.helpers import DATA

ROWS = 150_000
WORKER = """
import sys
from app.runtime import boot_from_env
boot_from_env()
from app.extensions import Session
from app.leads import tasks
from tenants.scoping import tenant_scope
with tenant_scope(int(sys.argv[1])):
    tasks.run_import.fn(int(sys.argv[2]))
    Session.commit()
"""


def _big_file(path):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("Nom;Prénom;Téléphone\n")
        for n in range(ROWS):
            handle.write(f"Nom{n};Prénom;06{n:08d}\n")


def _state(owner_engine, import_id):
    with owner_engine.connect() as conn:
        status, processed = conn.execute(sa.text("SELECT status, processed_rows FROM lead_imports WHERE id = :i"),
                                         {"i": import_id}).one()
        leads = conn.execute(sa.text("SELECT count(*) FROM leads")).scalar()
    return status, processed, leads


def test_killed_worker_leaves_nothing_and_the_retry_imports_everything(world, lists, owner_engine, tmp_path):
    path = tmp_path / "big.csv"
    _big_file(path)
    with tenant_scope(world.a.id):
        lead_list = Session.get(LeadList, lists["a"].list_id)
        with open(path, "rb") as handle:
            imp = imports.save_upload(handle, "big.csv", lead_list, user_id=None)
        imports.apply_mapping(imp, imports.ImportOptions({0: "last_name", 1: "first_name", 2: "phone_number"}, True),
                              ["Nom", "Prénom", "Téléphone"])
        imports.mark_queued(imp, ImportStatus.QUEUED)
        Session.commit()
        import_id = imp.id
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(world.a.id), str(import_id)], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status, processed, _leads = _state(owner_engine, import_id)
            if status == ImportStatus.RUNNING and processed > 0:
                break
            assert worker.poll() is None, "the worker finished before it could be killed"
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    status, processed, leads = _state(owner_engine, import_id)
    assert status == ImportStatus.RUNNING and 0 < processed < ROWS
    assert leads == 0  # nothing of the file, although rows were already staged
    with tenant_scope(world.a.id):
        # the broker redelivers the unacknowledged message, retrying while the dead
        # worker's backend still holds the import's lock (until PostgreSQL aborts it)
        deadline = time.monotonic() + 30
        while True:
            try:
                tasks.run_import.fn(import_id)
                break
            except imports.ImportBusyError:
                assert time.monotonic() < deadline, "the killed worker's lock was never released"
                time.sleep(0.2)
        Session.commit()
        done = Session.get(ImportJob, import_id, populate_existing=True)
        assert done.status == ImportStatus.DONE and done.counts["inserted"] == ROWS
        Session.commit()
    assert _state(owner_engine, import_id)[2] == ROWS


def test_a_second_worker_waits_for_the_first(world, lists, owner_engine):
    with tenant_scope(world.a.id):
        lead_list = Session.get(LeadList, lists["a"].list_id)
        with open(DATA / "contacts_latin1_crlf.csv", "rb") as handle:
            imp = imports.save_upload(handle, "c.csv", lead_list, user_id=None)
        imports.apply_mapping(imp, imports.ImportOptions({0: "last_name", 2: "phone_number"}, True), None)
        imports.mark_queued(imp, ImportStatus.QUEUED)
        Session.commit()
        import_id = imp.id
    with engine().connect() as other:  # the first worker holds the import's lock
        other.execute(sa.text("SELECT pg_advisory_lock(hashtext('lead_import'), :id)"), {"id": import_id})
        with tenant_scope(world.a.id), pytest.raises(imports.ImportBusyError):
            tasks.run_import.fn(import_id)
        Session.rollback()
        other.execute(sa.text("SELECT pg_advisory_unlock(hashtext('lead_import'), :id)"), {"id": import_id})
        other.commit()
    assert tasks._retry_when(0, imports.ImportBusyError("1"))
    with tenant_scope(world.a.id):
        tasks.run_import.fn(import_id)
        Session.commit()
        assert Session.get(ImportJob, import_id, populate_existing=True).status == ImportStatus.DONE
        Session.commit()

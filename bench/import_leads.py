"""Lead import benchmark (spec N3: a 1 000 000-lead CSV in under 60 s on 2 cores).

Generates a CSV of French contacts (5 % duplicate phones, 1 % invalid phones), then
imports it through the same service code as the wizard's job (upload, mapping,
``imports.execute``), in a throwaway database. For comparison it also times a naive
ORM import (one duplicate lookup and one ``Session.add`` per row) on a sample.

    .venv/bin/python bench/import_leads.py [--rows 1000000] [--baseline-rows 20000]

Uses DATABASE_URL (the owner's URL; a database ``carillon_bench_<pid>`` is created
and dropped), else an embedded PostgreSQL under ./var/bench-services. Prints its
figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import random
import resource
import sys
import tempfile
import time
import uuid

import sqlalchemy as sa

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST_NAMES = ("Jean", "Marie", "Pierre", "Nathalie", "Michel", "Isabelle", "André", "Sylvie", "Philippe",
               "Catherine", "Alain", "Françoise", "Nicolas", "Sandrine", "Christophe", "Valérie", "Stéphane",
               "Céline", "Sébastien", "Élodie", "Loïc", "Zoé", "Noël", "Hélène", "Jérôme", "Anaïs", "Chloé",
               "Léa", "Hugo", "Inès", "Théo", "Camille", "Louis", "Manon", "Gaëlle", "François")
LAST_NAMES = ("Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
              "Laurent", "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
              "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
              "Müller", "Lefebvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier")
CITIES = (("75", "Paris"), ("13", "Marseille"), ("69", "Lyon"), ("31", "Toulouse"), ("06", "Nice"),
          ("44", "Nantes"), ("67", "Strasbourg"), ("34", "Montpellier"), ("33", "Bordeaux"), ("59", "Lille"),
          ("35", "Rennes"), ("51", "Reims"), ("76", "Le Havre"), ("42", "Saint-Étienne"), ("83", "Toulon"))
PHONE_FORMATS = ("0{a} {c} {d} {e} {f}", "0{a}{c}{d}{e}{f}", "+33 {a} {c} {d} {e} {f}", "0{a}.{c}.{d}.{e}.{f}",
                 "33{a}{c}{d}{e}{f}", "(0{a}) {c}-{d}-{e}-{f}", "0{a}-{c}-{d}-{e}-{f}")


def generate_csv(path: pathlib.Path, rows: int, seed: int = 42) -> dict[str, int]:
    rng = random.Random(seed)
    seen: list[str] = []
    stats = {"duplicates": 0, "invalid": 0}
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["Nom", "Prénom", "Téléphone", "Email", "Adresse", "Code postal", "Ville", "Société"])
        for n in range(rows):
            roll = rng.random()
            if roll < 0.01:
                phone = rng.choice(("12345", "06 12", "inconnu", "0012345678", "+33 6 12 34 56 78 90"))
                stats["invalid"] += 1
            elif roll < 0.06 and seen:
                phone = rng.choice(seen)
                stats["duplicates"] += 1
            else:
                digits = f"{rng.randrange(10**8):08d}"
                phone = rng.choice(PHONE_FORMATS).format(
                    a=rng.choice("67" * 4 + "12345"), c=str(rng.randrange(40, 60)), d=digits[2:4], e=digits[4:6],
                    f=digits[6:8])
                if len(seen) < 50_000:
                    seen.append(phone)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            department, city = rng.choice(CITIES)
            email = f"{first.lower()}.{last.lower()}{n}@exemple.fr" if rng.random() < 0.6 else ""
            company = f"{last} et Fils SARL" if rng.random() < 0.1 else ""
            writer.writerow([last, first, phone, email, f"{rng.randrange(1, 200)} rue de la République",
                             f"{department}{rng.randrange(1000):03d}", city, company])
    return stats


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_cpu_seconds() -> float:
    """User + system time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backend_cpu_seconds(pid: int) -> float | None:
    """User + system time of a PostgreSQL backend, when the server runs on this
    machine and its /proc entry is readable (None otherwise)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prepare_database() -> tuple[str, str, object | None]:
    """(server url, bench database url, embedded services to stop)."""
    from app.embedded import EmbeddedServices
    from app.extensions import sqlalchemy_url

    services = None
    if not os.environ.get("DATABASE_URL"):
        services = EmbeddedServices(ROOT / "var" / "bench-services")
        os.environ["DATABASE_URL"] = services.start_postgres()
    server = os.environ["DATABASE_URL"]
    name = f"carillon_bench_{os.getpid()}"
    admin = sa.create_engine(sqlalchemy_url(server), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return server, sqlalchemy_url(server).set(database=name).render_as_string(hide_password=False), services


def drop_database(server: str, url: str) -> None:
    from app.extensions import dispose_db, sqlalchemy_url

    dispose_db()
    name = sa.make_url(url).database
    admin = sa.create_engine(sqlalchemy_url(server), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def boot(url: str) -> None:
    from app.config import Config
    from app.migrate import upgrade
    from app.runtime import boot as boot_app

    upgrade(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")  # not used by the import itself
    os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex)
    boot_app(Config.from_env())


def make_tenant(name: str) -> tuple[int, int]:
    from app.campaigns.models import Campaign
    from app.extensions import Session
    from app.leads.models import LeadList
    from tenants.models import TenantStatus
    from tenants.scoping import tenant_scope, unscoped
    from tenants.services import create_tenant, default_reseller

    with unscoped():
        tenant = create_tenant(name, reseller=default_reseller(), status=TenantStatus.ACTIVE)
        Session.commit()
    with tenant_scope(tenant.id):
        campaign = Campaign(name="Prospection")
        Session.add(campaign)
        Session.flush()
        lead_list = LeadList(campaign_id=campaign.id, name="Fichier bench")
        Session.add(lead_list)
        Session.commit()
        return tenant.id, lead_list.id


def service_import(tenant_id: int, list_id: int, path: pathlib.Path, *, validate_first: bool) -> dict:
    from app.extensions import Session
    from app.leads import imports
    from app.leads.models import ImportJob, ImportStatus, LeadList
    from tenants.scoping import tenant_scope

    timings: dict[str, float] = {}
    cpu: dict[str, float | None] = {}
    with tenant_scope(tenant_id):
        cpu_started = own_cpu_seconds()
        started = time.perf_counter()
        with open(path, "rb") as handle:
            imp = imports.save_upload(handle, path.name, Session.get(LeadList, list_id), user_id=None)
        view = imports.preview(imp)
        header = view.header(True)
        mapping = imports.suggest_mapping(imp, header, view.columns, [])
        imports.apply_mapping(imp, imports.ImportOptions(mapping, True, strategy="merge"), header)
        imports.mark_queued(imp, ImportStatus.VALIDATING if validate_first else ImportStatus.QUEUED)
        Session.commit()
        timings["upload"] = time.perf_counter() - started
        if validate_first:
            started = time.perf_counter()
            imports.validate(imp.id)
            Session.commit()
            timings["validate"] = time.perf_counter() - started
        # the import job's transaction runs on this backend (same session, no commit before it)
        backend = Session.scalar(sa.text("SELECT pg_backend_pid()"))
        backend_started = backend_cpu_seconds(backend)
        started = time.perf_counter()
        imports.execute(imp.id)
        backend_cpu = backend_cpu_seconds(backend)
        Session.commit()
        timings["import"] = time.perf_counter() - started
        cpu["python"] = own_cpu_seconds() - cpu_started
        cpu["postgres"] = (backend_cpu - backend_started
                           if backend_cpu is not None and backend_started is not None else None)
        done = Session.get(ImportJob, imp.id, populate_existing=True)
        counts = dict(done.counts)
        imports.delete_import_files(done)
        Session.commit()
    return {"timings": timings, "counts": counts, "cpu": cpu}


def naive_baseline(tenant_id: int, list_id: int, path: pathlib.Path, rows: int) -> tuple[int, float]:
    """What a first version usually does: per row, normalise, look the phone up,
    ``Session.add``; one commit at the end."""
    from app.extensions import Session
    from app.leads.models import Lead
    from app.leads.phones import normalize_phone
    from tenants.scoping import tenant_scope

    inserted = 0
    with tenant_scope(tenant_id), open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=";")
        next(reader)
        started = time.perf_counter()
        for n, row in enumerate(reader):
            if n >= rows:
                break
            phone = normalize_phone(row[2]).e164
            if phone is None:
                continue
            if Session.scalar(sa.select(Lead.id).where(Lead.phone_number == phone).limit(1)) is not None:
                continue
            Session.add(Lead(list_id=list_id, last_name=row[0], first_name=row[1], phone_number=phone,
                             email=row[3] or None, address1=row[4], postal_code=row[5], city=row[6],
                             company=row[7] or None, vendor_lead_code=f"EXT-{uuid.uuid4().hex[:20]}"))
            inserted += 1
        Session.commit()
        elapsed = time.perf_counter() - started
    return inserted, elapsed


def bloctel_bench(tenant_id: int, lines: int, workdir: pathlib.Path) -> None:
    """Bloctel file import (COPY) and ``is_blocked`` with that many numbers listed."""
    import datetime as dt

    from app.extensions import Session
    from app.leads import redlist
    from tenants.scoping import tenant_scope

    path = workdir / "bloctel.txt"
    rng = random.Random(7)
    with open(path, "w", encoding="ascii") as handle:
        for _ in range(lines):
            handle.write(f"0{rng.choice('67')}{rng.randrange(10**8):08d}\n")
    with tenant_scope(tenant_id), open(path, "rb") as stream:
        started = time.perf_counter()
        record = redlist.import_bloctel(stream, file_date=dt.date.today(), filename=path.name)
        Session.commit()
        seconds = time.perf_counter() - started
    print(f"Bloctel: {lines} lines ({record.numbers} distinct numbers) imported in {seconds:.1f} s")
    phones = [f"+33{rng.choice('67')}{rng.randrange(10**8):08d}" for _ in range(2000)]
    with tenant_scope(tenant_id):
        started = time.perf_counter()
        blocked = sum(redlist.is_blocked(tenant_id, None, phone) for phone in phones)
        per_check = (time.perf_counter() - started) / len(phones) * 1000
        started = time.perf_counter()
        redlist.blocked_numbers(tenant_id, None, phones)
        batch = (time.perf_counter() - started) * 1000
        Session.rollback()
    print(f"is_blocked: {per_check:.2f} ms per number ({blocked} of {len(phones)} blocked); "
          f"blocked_numbers for {len(phones)} numbers in one query: {batch:.0f} ms")
    path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    parser.add_argument("--validate", action="store_true", help="also time the validation job before the import")
    parser.add_argument("--bloctel-lines", type=int, default=0,
                        help="also time a Bloctel file import of that many lines and is_blocked against it")
    args = parser.parse_args()

    workdir = pathlib.Path(tempfile.mkdtemp(prefix="carillon-bench-"))
    os.environ["LEADS_IMPORT_DIR"] = str(workdir / "imports")
    csv_path = workdir / "leads.csv"
    started = time.perf_counter()
    stats = generate_csv(csv_path, args.rows)
    print(f"generated {args.rows} rows ({csv_path.stat().st_size / 1e6:.1f} MB, {stats['duplicates']} duplicate "
          f"phones, {stats['invalid']} invalid) in {time.perf_counter() - started:.1f} s")

    server, url, services = prepare_database()
    try:
        boot(url)
        tenant_id, list_id = make_tenant("Bench Appels")
        load_before = os.getloadavg()
        result = service_import(tenant_id, list_id, csv_path, validate_first=args.validate)
        load_after = os.getloadavg()
        timings, counts, cpu = result["timings"], result["counts"], result["cpu"]
        seconds = timings["upload"] + timings["import"]
        for name, value in timings.items():
            print(f"{name:>9}: {value:6.1f} s")
        print(f"inserted {counts['inserted']}, invalid {counts['invalid_total']} {counts['invalid']}, duplicates in file "
              f"{counts['duplicate_in_file_total']}, existing {counts['existing_total']}")
        print(f"service import: {args.rows} rows in {seconds:.1f} s = {args.rows / seconds:,.0f} rows/s")
        backend = "n/a (server not local)" if cpu["postgres"] is None else f"{cpu['postgres']:.1f} s"
        print(f"CPU: this process {cpu['python']:.1f} s (upload, validation if any, import; all threads), the import's PostgreSQL backend {backend} "
              f"(the import job only); load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
              f"on {os.cpu_count()} CPUs")

        base_tenant, base_list = make_tenant("Bench Naïf")
        baseline_inserted, baseline_seconds = naive_baseline(base_tenant, base_list, csv_path, args.baseline_rows)
        baseline_rate = args.baseline_rows / baseline_seconds
        print(f"naive ORM baseline: {args.baseline_rows} rows ({baseline_inserted} inserted) in "
              f"{baseline_seconds:.1f} s = {baseline_rate:,.0f} rows/s "
              f"(1 M rows would take ~{args.rows / baseline_rate / 60:.0f} min)")
        if args.bloctel_lines:
            bloctel_bench(tenant_id, args.bloctel_lines, workdir)
        print(f"peak RSS: {peak_rss_mb():.0f} MB")
        print(json.dumps({"rows": args.rows, "seconds": round(seconds, 2), "rows_per_s": round(args.rows / seconds),
                          "baseline_rows_per_s": round(baseline_rate), "peak_rss_mb": round(peak_rss_mb()),
                          "python_cpu_s": round(cpu["python"], 1),
                          "postgres_cpu_s": None if cpu["postgres"] is None else round(cpu["postgres"], 1),
                          "load_avg": round(load_after[0], 1)}))
    finally:
        drop_database(server, url)
        csv_path.unlink(missing_ok=True)
        if services is not None:
            services.stop()


if __name__ == "__main__":
    main()

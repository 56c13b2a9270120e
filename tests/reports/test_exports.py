"""Large exports: queued for a worker, then downloaded from the link; per user."""

from __future__ import annotations

import gc
import warnings

from app.reports import services
from tests.reports.conftest import DAY


def _collect_worker_connections() -> None:
    """The worker boots its own engine; the pool it replaced is collected here rather
    than in whichever test runs next."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


DAYS = f"period=custom&from={DAY.isoformat()}&to={DAY.isoformat()}"


def test_large_call_export_runs_in_the_background(client, world, calls, logged_in, monkeypatch, stub_worker,
                                                  tmp_path):
    monkeypatch.setattr(services, "EXPORT_SYNC_ROWS", 5)
    monkeypatch.setenv("EXPORT_DIR", str(tmp_path))
    logged_in(client, world.a.users["manager"], world.password)
    pdf = client.get(f"/reports/calls?{DAYS}&export=pdf")
    assert pdf.status_code == 400 and "CSV or XLSX" in pdf.get_data(as_text=True)
    response = client.get(f"/reports/calls?{DAYS}&export=csv")
    assert response.status_code == 302
    status_url = response.headers["Location"]
    assert "Preparing the file" in client.get(status_url).get_data(as_text=True)
    stub_worker()
    _collect_worker_connections()
    page = client.get(status_url).get_data(as_text=True)
    assert "Download" in page
    download = client.get(f"{status_url}/download")
    body = download.get_data()
    download.close()
    assert download.status_code == 200 and download.mimetype == "text/csv"
    lines = body.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 13 and b"+33699999999" not in body  # header, 10 calls, totals, averages
    assert lines[-2].startswith("Total: 10 calls;") and lines[-1].startswith("Average;")
    other = client.application.test_client()
    logged_in(other, world.b.users["manager"], world.password)
    assert other.get(status_url).status_code == 404
    assert other.get(f"{status_url}/download").status_code == 404
    colleague = client.application.test_client()
    logged_in(colleague, world.a.users["admin"], world.password)
    assert colleague.get(status_url).status_code == 404  # someone else's export

"""``python -m telephony.dialer``: run the dialer service until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from app.runtime import boot_from_env, current_config
from telephony.dialer.backends import make_backends
from telephony.dialer.service import DialerService


def main() -> None:
    parser = argparse.ArgumentParser(description="Carillon dialer service")
    parser.add_argument(
        "--tenant",
        action="append",
        default=[],
        metavar="SLUG",
        help="drive only this tenant's campaigns (repeatable); the simulated backend "
        "requires it, so that no real tenant is ever driven by the simulator",
    )
    parser.add_argument(
        "--no-virtual-agents",
        action="store_true",
        help="do not log the tenant's agents in as simulated agents (simulated backend)",
    )
    args = parser.parse_args()
    boot_from_env()
    from app.core.logging import configure_logging

    config = current_config()
    configure_logging(config.LOG_LEVEL, config.LOG_JSON)
    if config.DIALER_BACKEND == "simulated" and not args.tenant:
        raise SystemExit("the simulated backend drives demo tenants only: name them with --tenant SLUG")
    tenant_ids = tenant_ids_for(args.tenant) if args.tenant else None
    backends = make_backends(config)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logging.getLogger("carillon.dialer").info("dialer service started (backend %s)", config.DIALER_BACKEND)
    DialerService(virtual_agents=not args.no_virtual_agents, tenant_ids=tenant_ids, backends=backends).run(stop)


def tenant_ids_for(slugs: list[str]) -> list[int]:
    import sqlalchemy as sa

    from app.extensions import Session
    from tenants.models import Tenant

    ids = list(Session.scalars(sa.select(Tenant.id).where(Tenant.slug.in_(slugs))))
    Session.remove()
    if len(ids) != len(set(slugs)):
        raise SystemExit(f"unknown tenant slug among {slugs}")
    return ids


if __name__ == "__main__":
    main()

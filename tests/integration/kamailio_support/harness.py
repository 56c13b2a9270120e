"""Real Kamailio and SIPp processes on loopback for the routing integration tests.

Every process is started in its own session so that teardown can signal its whole
process group (Kamailio forks workers) by the id it was given, and every wait is
bounded.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa

from kamailio import rpc
from kamailio import tables as kamailio_tables

REPO = Path(__file__).resolve().parents[3]
KAMAILIO_CFG = REPO / "kamailio" / "kamailio.cfg"
LOCAL_CFG_EXAMPLE = REPO / "kamailio" / "local.cfg.example"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0


def missing_binaries() -> list[str]:
    return [name for name in ("kamailio", "sipp") if shutil.which(name) is None]


def free_ports(count: int) -> list[int]:
    """Loopback ports free for both UDP and TCP, below 32768: Kamailio's lcr_gw.port
    is a SMALLINT, and the kernel's ephemeral range starts above it."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 32000)
        if port not in ports and _bindable(port):
            ports.append(port)
    return ports


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((LOOPBACK, port))
            except OSError:
                return False
    return True


# --- PostgreSQL --------------------------------------------------------------------


@dataclass(frozen=True)
class ThrowawayDatabase:
    owner_url: sa.URL  # superuser connection for the test's own writes
    kamailio_url: str  # what Kamailio's db_postgres connects with
    kamailio_role: str


class NoTcpPostgres(RuntimeError):
    pass


def tcp_server_url() -> sa.URL:
    """The PostgreSQL server to use: DATABASE_URL's when it is reached over TCP, else
    this machine's 127.0.0.1:5432. Kamailio's db_postgres URLs name a host and port
    only, so an embedded server listening on a Unix socket cannot serve Kamailio."""
    given = os.environ.get("DATABASE_URL")
    if given:
        url = sa.make_url(given)
        if url.host and not str(url.query.get("host", "")).startswith("/"):
            return url
    fallback = sa.make_url(DEFAULT_DATABASE_URL)
    try:
        with socket.create_connection((fallback.host or LOOPBACK, fallback.port or 5432), timeout=2):
            return fallback
    except OSError as exc:
        raise NoTcpPostgres(
            "Kamailio needs PostgreSQL over TCP: set DATABASE_URL to a TCP server "
            f"(DATABASE_URL={given!r} is not one and {DEFAULT_DATABASE_URL} does not answer)"
        ) from exc


@contextmanager
def throwaway_database() -> Iterator[ThrowawayDatabase]:
    """A fresh database holding the ``kamailio`` schema, created by the very DDL the
    migration runs, and a read-only Kamailio role; both dropped afterwards."""
    server = tcp_server_url()
    name = f"carillon_kam_{os.getpid()}"
    role = name
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    _admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    owner_url = server.set(drivername="postgresql+psycopg", database=name)
    engine = sa.create_engine(owner_url)
    try:
        with engine.begin() as connection:
            for statement in kamailio_tables.create_statements():
                connection.execute(statement)
            for statement in kamailio_tables.access_statements(app_role="carillon_app", kamailio_role=role):
                connection.execute(statement)
        host = server.host or LOOPBACK
        port = server.port or 5432
        yield ThrowawayDatabase(owner_url, f"postgres://{role}@{host}:{port}/{name}", role)
    finally:
        engine.dispose()
        _admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'DROP ROLE IF EXISTS "{role}"')


ROUTING_TABLES = ("carriers", "trunks", "carrier_rates", "media_nodes")


def create_routing_tables(engine: sa.Engine) -> None:
    """The application's routing tables in the throwaway database. These tests need only
    them, not the whole migration chain (which the migration tests run), hence
    ``create_all``."""
    import telephony.routing.models  # noqa: F401  (puts the tables in the metadata)
    from app.db import Base

    Base.metadata.create_all(engine, tables=[Base.metadata.tables[name] for name in ROUTING_TABLES])


def _admin(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as connection:
        for statement in statements:
            connection.execute(statement)  # type: ignore[arg-type]


# --- Kamailio ----------------------------------------------------------------------


@dataclass(frozen=True)
class KamailioPorts:
    sip: int
    ws: int
    rpc: int


def local_cfg(ports: KamailioPorts, db_url: str, domain: str = "agents.carillon.test") -> str:
    """A local.cfg for loopback: no media-node probing, short carrier timers."""
    return "\n".join(
        [
            f'#!substdef "!SIP_UDP_LISTEN!udp:{LOOPBACK}:{ports.sip}!g"',
            f'#!substdef "!SIP_TCP_LISTEN!tcp:{LOOPBACK}:{ports.sip}!g"',
            f'#!substdef "!WS_LISTEN!tcp:{LOOPBACK}:{ports.ws}!g"',
            f'#!substdef "!RPC_LISTEN!tcp:{LOOPBACK}:{ports.rpc}!g"',
            f"#!define RPC_PORT {ports.rpc}",
            f'#!define DBURL "{db_url}"',
            f'#!substdef "!SIP_DOMAIN!{domain}!g"',
            "#!define MEDIA_PROBING_MODE 0",
            "#!define FR_TIMER 2000",
            "#!define CHILDREN 2",
            "#!define TCP_CHILDREN 2",
            "#!define DEBUG_LEVEL 2",
            "",
        ]
    )


def install_config(directory: Path, local_cfg_text: str) -> Path:
    """kamailio.cfg as shipped (never edited), beside a generated local.cfg, which it
    includes relative to its own directory."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(KAMAILIO_CFG, directory / "kamailio.cfg")
    (directory / "local.cfg").write_text(local_cfg_text)
    return directory / "kamailio.cfg"


def check_config(cfg: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kamailio", "-c", "-f", str(cfg)],
        cwd=cfg.parent,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@dataclass
class Kamailio:
    process: subprocess.Popen[bytes]
    rpc_url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def running_kamailio(cfg: Path, ports: KamailioPorts) -> Iterator[Kamailio]:
    run_dir = cfg.parent / "run"
    run_dir.mkdir(exist_ok=True)
    log = cfg.parent / "kamailio.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["kamailio", "-DD", "-E", "-f", str(cfg), "-Y", str(run_dir), "-m", "64", "-M", "8"],
            cwd=cfg.parent,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    kamailio = Kamailio(process, f"http://{LOOPBACK}:{ports.rpc}/RPC", log)
    try:
        _wait_for_rpc(kamailio)
        yield kamailio
    finally:
        stop_process(process)


def _wait_for_rpc(kamailio: Kamailio) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if kamailio.process.poll() is not None:
            raise RuntimeError(
                f"kamailio exited with {kamailio.process.returncode}:\n{kamailio.log_text()[-4000:]}"
            )
        try:
            rpc.call(kamailio.rpc_url, "core.version", timeout=1.0)
            return
        except rpc.KamailioRpcError:
            time.sleep(0.1)
    raise RuntimeError(
        f"kamailio did not answer JSON-RPC in {START_TIMEOUT_S} s:\n{kamailio.log_text()[-4000:]}"
    )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group the harness created, then SIGKILL if it lingers."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
    # Workers outlive their parent for a moment; make sure none is left.
    _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass

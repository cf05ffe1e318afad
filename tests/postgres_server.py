"""A throw-away PostgreSQL cluster from Debian's `postgresql` package: initdb in a temp folder, a free
loopback port, password authentication, stopped by pg_ctl and removed afterwards.

initdb and pg_ctl refuse to run as root, so under root (CI) the cluster belongs to the `postgres`
system user and its commands run through runuser."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from ui_servers import free_port

PG_ROOT = Path("/usr/lib/postgresql")
SYSTEM_USER = "postgres"
USER, PASSWORD = "persona", "persona-test-password"


@dataclass(frozen=True)
class Postgres:
    port: int
    host: str = "127.0.0.1"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://{USER}:{PASSWORD}@{self.host}:{self.port}/{database}"

    @contextmanager
    def cursor(self, database: str, autocommit: bool = False):
        connection = psycopg2.connect(host=self.host, port=self.port, user=USER, password=PASSWORD, dbname=database)
        connection.autocommit = autocommit
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def create_database(self, name: str) -> None:
        with self.cursor("postgres", autocommit=True) as cursor:  # CREATE DATABASE cannot run in a transaction
            cursor.execute(f'CREATE DATABASE "{name}"')

    def dagster_env(self, database: str) -> dict[str, str]:
        """The variables dagster_home/postgres/dagster.yaml reads."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_DB": database,
                "DAGSTER_PG_USER": USER, "DAGSTER_PG_PASSWORD": PASSWORD}


def server_binaries() -> Path | None:
    found = sorted(PG_ROOT.glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


@contextmanager
def postgres_cluster():
    bin_dir = server_binaries()
    if bin_dir is None:
        raise RuntimeError(f"no PostgreSQL server in {PG_ROOT}: `apt-get install postgresql` (scripts/test.sh does it)")
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", SYSTEM_USER, "--"] if as_root else []
    root = Path(tempfile.mkdtemp(prefix="persona-pg-"))
    data, log, password_file = root / "data", root / "server.log", root / "password"
    password_file.write_text(PASSWORD)
    if as_root:
        account = pwd.getpwnam(SYSTEM_USER)
        for path in (root, password_file):
            os.chown(path, account.pw_uid, account.pw_gid)

    def run(*command: str) -> None:
        result = subprocess.run([*run_as, *command], capture_output=True, text=True)
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{Path(command[0]).name} failed ({result.returncode}):\n{result.stdout}{result.stderr}{tail}")

    port = free_port()
    started = False
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={password_file}", "--auth=scram-sha-256",
            "-E", "UTF8", "--locale=C.UTF-8")
        # TCP on loopback only; the socket goes to the temp folder, not /var/run/postgresql
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
            "-o", f"-p {port} -h 127.0.0.1 -k {root}", "start")
        started = True
        yield Postgres(port)
    finally:
        if started:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)

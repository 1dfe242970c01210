"""What both benchmarks share: a fresh database, Django set up against it, a provider with a
contract, and honest readings of time, memory and machine load.

Nothing here is imported by the application. The benchmarks run their measured step in a child
process (or against a server process) so that the memory readings belong to that step alone and
not to the data generation or set-up done before it.
"""

import datetime
import json
import os
import re
import resource
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
SAFE_DB_NAME = re.compile(r"^pbr_[a-z0-9_]{1,50}$")
PROVIDER_USERNAME = "bench-provider"
PROVIDER_PASSWORD = "bench-provider-password-0123"
MB = 1024 * 1024


# --- the database --------------------------------------------------------------------------------


def database_url(server, db_name, sqlite_path=None):
    """The DATABASE_URL for the bench database: PostgreSQL by default, a file for smoke tests."""
    if sqlite_path:
        return f"sqlite:///{Path(sqlite_path).resolve()}"
    if not SAFE_DB_NAME.match(db_name):
        raise SystemExit(f"Refusing database name {db_name!r}: it must look like pbr_<letters, "
                         "digits or _> so a benchmark can never drop a real database.")
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db_name}", "", ""))


def recreate_database(url):
    """Drop and create the bench database, so every run starts from nothing."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = Path(parts.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg2

    name = parts.path.lstrip("/")
    if not SAFE_DB_NAME.match(name):
        raise SystemExit(f"Refusing to recreate database {name!r}.")
    admin = psycopg2.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                             user=parts.username or "postgres", password=parts.password or "",
                             dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()


def drop_database(url):
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        Path(parts.path).unlink(missing_ok=True)
        return
    import psycopg2

    name = parts.path.lstrip("/")
    if not SAFE_DB_NAME.match(name):
        return
    admin = psycopg2.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                             user=parts.username or "postgres", password=parts.password or "",
                             dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def bench_environment(url, work_dir, **extra):
    """Environment for this process and its children: the bench database, production-like
    settings (DEBUG off, so Django keeps no query log), evidence in the bench's own folder."""
    env = {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "pbr.settings.base",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "EVIDENCE_ROOT": str(Path(work_dir) / "evidence"),
        "CELERY_BROKER_URL": "",
        "PYTHONPATH": str(ROOT),
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def setup_django(env):
    os.environ.update(env)
    import django

    django.setup()


def migrate():
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def provider_world(contract_file):
    """A commissioner, a provider with a manager who can sign in, and a published contract."""
    from contracts.definition import load_document
    from contracts.services import import_contract
    from pbr.models import Organisation, OrganisationKind, Role, User

    commissioner = Organisation.objects.create(
        name="Bench Commissioning Body", slug="bench-commissioner",
        kind=OrganisationKind.COMMISSIONING_BODY)
    provider = Organisation.objects.create(name="Bench Provider", slug="bench-provider",
                                           kind=OrganisationKind.PROVIDER)
    user = User(username=PROVIDER_USERNAME, email="bench@example.org",
                role=Role.PROVIDER_MANAGER, organisation=provider)
    user.set_password(PROVIDER_PASSWORD)
    user.save()
    contract = None
    if contract_file:
        document = load_document(contract_file)
        contract = import_contract(document, commissioner=commissioner,
                                   links={document["prime_provider"]["code"]: provider},
                                   publish=True)
    return provider, user, contract


# --- readings ------------------------------------------------------------------------------------


def proc_status(pid="self"):
    """VmRSS and VmHWM of a process, in bytes (0 if the process has gone)."""
    found = {"VmRSS": 0, "VmHWM": 0}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in found:
                    found[key] = int(rest.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def reset_peak(pid="self"):
    """Reset VmHWM to the current RSS (Linux clear_refs 5). False where the kernel refuses."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def cpu_seconds(pid="self"):
    """User plus system CPU time a process has used, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_backend_pid():
    """The PostgreSQL server process serving this connection, when it runs on this machine:
    its CPU time is the database's share of the work. None on SQLite."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return pid if os.path.exists(f"/proc/{pid}/stat") else None


def ru_maxrss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def load_average():
    one, five, fifteen = os.getloadavg()
    return {"1min": round(one, 2), "5min": round(five, 2), "15min": round(fifteen, 2)}


def machine():
    cores = os.cpu_count()
    memory = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    return {"cores": cores, "memory_gb": round(memory / 1024 ** 3, 1),
            "python": sys.version.split()[0], "when": datetime.datetime.now().isoformat(
                timespec="seconds")}


def database_version():
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
        cursor.execute("select sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"


def mb(n):
    return f"{n / MB:,.1f} MB"


def emit(result):
    """The child's one line of output: a JSON object the parent reads."""
    print("BENCH-RESULT " + json.dumps(result, default=str), flush=True)


def read_result(output):
    for line in output.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT "):])
    return None


def table(rows, headings):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headings)]
    line = "  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(out)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def clean_dir(path):
    shutil.rmtree(path, ignore_errors=True)

"""Load test: the commissioner dashboards, the provider's filtered claim list and the auditor
queue at national scale, 20 concurrent users for 60 seconds (docs/performance.md, "Dashboards").

    .venv/bin/python bench/national.py --db pbr_dashboards_national      # once: 1M people, 5M claims
    .venv/bin/python bench/dashboards_load.py --db pbr_dashboards_national

Steps, each printed as it goes:

1. Migrate the database (the dashboards' snapshot table) and set up, idempotently, what the
   generated programme lacks: a commissioner, a provider user and an auditor who can sign in
   (password below), the auditor named on the DWP contracts, and a verification sample in
   progress (1 in 100 of their claims that passed their checks selected, with a review due), so
   the auditor's queue has a realistic backlog. Bulk writes skip the payments fact-change
   triggers, as bench/national.py does: they are history, not live edits.
2. Work out each contract's dashboard figures (pbr/dashboards/refresh.py), as the half-hourly
   task does; contracts that already have figures are skipped unless --refresh all.
3. Start gunicorn on 127.0.0.1 against the database (DEBUG off), sign each locust user in
   through the sign-in form (before the measured minute: twenty password hashes at once would
   otherwise hold up the pages measured), commissioners and auditors entering a code from an
   authenticator device the runner gives them (ADR 0015), and run locust headless
   (bench/locustfile.py) against that loopback address only: it stops by itself after
   --run-time. Each user opens pages with 0.5-1.5 s between them.
4. Print requests, failures, median and p95 per page, the machine's load average before and
   after, and write var/bench-dashboards.json. Exit 1 if any measured page's p95 is above
   --p95-ms or any request failed.

It writes to the database it is given (users, sessions, figures, the sample), so it refuses
pbr_bench_national, which belongs to the payments benchmark.
"""

import argparse
import contextlib
import csv
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

PASSWORD = "bench-dashboards-password-0123"
# The bench users' authenticator app (ADR 0015: commissioners and auditors enter a code after
# their password). A fixed key, in the benchmark's own database only.
TOTP_KEY = "62656e63682d64617368626f617264732d746f7470"
USERS = {"commissioner": "bench-dash-commissioner", "provider": "bench-dash-provider",
         "auditor": "bench-dash-auditor"}
PROTECTED_DBS = {"pbr_bench_national"}
PAGES = {"Commissioner": ("commissioner dashboard", "contract dashboard", "equity view"),
         "Provider": ("provider claim list (filtered)",),
         "Auditor": ("auditor queue", "auditor queue (by contract)")}
MEASURED = tuple(page for pages in PAGES.values() for page in pages)
SAMPLE_EVERY = 100  # 1 in this many passed claims is in the auditor's sample


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# --- 1. set-up ---------------------------------------------------------------------------------


def set_up():
    """Users, the auditor on the DWP contracts and a sample in progress. Returns the plan the
    locust users read."""
    from django.db import connection, transaction

    from contracts.models import Contract, ContractParty, PartyRole
    from outcomes.models import Claim
    from outcomes.verification.models import VerificationPolicy
    from pbr.models import Organisation, OrganisationKind, Role, User

    commissioner_org = max(
        Organisation.objects.filter(kind=OrganisationKind.COMMISSIONING_BODY),
        key=lambda o: o.commissioned_contracts.count())
    contracts = list(Contract.objects.filter(commissioner=commissioner_org).order_by("reference"))
    # The provider: the prime of the contract with the most participants (the most claims).
    primes = (ContractParty.objects.filter(contract__in=contracts, role=PartyRole.PRIME,
                                           organisation__isnull=False)
              .select_related("contract", "organisation").order_by("contract__reference"))
    prime = max(primes, key=lambda p: p.contract.participants.count())
    audit_org, _ = Organisation.objects.get_or_create(
        slug="bench-dash-audit", defaults={"name": "Bench Audit Office",
                                           "kind": OrganisationKind.AUDIT_BODY})
    orgs = {"commissioner": (commissioner_org, Role.COMMISSIONER),
            "provider": (prime.organisation, Role.PROVIDER_USER),
            "auditor": (audit_org, Role.AUDITOR)}
    for key, username in USERS.items():
        org, role = orgs[key]
        user, _ = User.objects.get_or_create(username=username)
        user.organisation, user.role, user.is_active = org, role, True
        user.set_password(PASSWORD)
        user.save()
    with transaction.atomic():
        cursor = connection.cursor()
        cursor.execute("SET LOCAL session_replication_role = replica")
        for contract in contracts:
            ContractParty.objects.get_or_create(
                contract=contract, role=PartyRole.AUDITOR, name=audit_org.name,
                defaults={"organisation": audit_org, "code": "AUDIT"})
            VerificationPolicy.objects.get_or_create(contract=contract)
        ids = [c.pk for c in contracts]
        cursor.execute(
            "UPDATE outcomes_claim c SET status = 'sampled' FROM outcomes_return r "
            "WHERE c.return_record_id = r.id AND r.contract_id = ANY(%s) "
            "AND c.status = 'passed' AND c.id %% %s = 0", [ids, SAMPLE_EVERY])
        cursor.execute(
            "INSERT INTO outcomes_claimreview (claim_id, reasons, due_date, reason_code, note, "
            "after_payment) SELECT c.id, '[]'::jsonb, DATE '2025-04-01' + (c.id %% 30)::int, '', '', "
            "false FROM outcomes_claim c JOIN outcomes_return r ON r.id = c.return_record_id "
            "WHERE r.contract_id = ANY(%s) AND c.status = 'sampled' "
            "AND NOT EXISTS (SELECT 1 FROM outcomes_claimreview v WHERE v.claim_id = c.id)",
            [ids])
    # Outside the transaction (VACUUM cannot run in one): statistics for the planner, and the
    # visibility map autovacuum would set after the bulk load and the update above, so that the
    # queue's index-only scans need no heap fetch per open claim (docs/performance.md).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) outcomes_claim, outcomes_claimreview, outcomes_return")
    sampled = Claim.objects.filter(status="sampled").count()
    periods = list(prime.contract.returns.order_by("-period_start")
                   .values_list("period_id", flat=True)[:12])
    return {"password": PASSWORD, "commissioner": USERS["commissioner"],
            "provider": USERS["provider"], "auditor": USERS["auditor"],
            "contracts": [c.pk for c in contracts],
            "provider_contract": prime.contract.reference, "periods": periods,
            "sampled_claims": sampled, "commissioner_org": commissioner_org.name,
            "provider_org": prime.organisation.name}


# --- 2. figures --------------------------------------------------------------------------------


def refresh(mode, with_forecast):
    from contracts.models import Contract
    from pbr.dashboards.models import DashboardSnapshot
    from pbr.dashboards.refresh import refresh_contract

    contracts = Contract.objects.order_by("reference")
    if mode == "missing":
        contracts = contracts.exclude(pk__in=DashboardSnapshot.objects.values("contract_id"))
    elif mode == "none":
        return []
    timings = []
    for contract in contracts:
        started = time.monotonic()
        # Forced: the set-up's bulk writes skip the fact-change triggers, so the figures'
        # inputs (ADR 0020) would not show them.
        refresh_contract(contract, with_forecast=with_forecast, force=True)
        timings.append((contract.reference, round(time.monotonic() - started, 1)))
        log(f"  figures for {contract.reference} in {timings[-1][1]} s")
    return timings


# --- 3. server and locust --------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env, port, workers, log_path):
    args = [str(Path(sys.executable).with_name("gunicorn")), "pbr.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
            "--timeout", "120", "--log-level", "warning"]
    out = open(log_path, "w")  # noqa: SIM115 - closed in stop()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited early; see {log_path}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, out
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit(f"gunicorn did not start within 60 s; see {log_path}")


def stop(proc, out):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    out.close()


def warm_up(port):
    """One request per worker so the first measured ones do not pay for imports."""
    import urllib.request

    for _ in range(8):
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/account/sign-in/", timeout=30).read()


def authenticator_apps(plan, kinds, users):
    """Give each bench user whose role needs two-factor a confirmed authenticator device with
    TOTP_KEY, afresh (no code used yet), accepting codes up to `users` + 2 steps ahead: each of
    that user's sign-ins below enters the code of the next 30-second step, since a device
    never accepts the same step twice."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from pbr import mfa
    from pbr.models import User

    for kind in kinds:
        user = User.objects.get(username=plan[kind])
        if not mfa.role_requires_mfa(user):
            continue
        TOTPDevice.objects.filter(user=user).delete()
        TOTPDevice.objects.create(user=user, name=mfa.DEVICE_NAME, key=TOTP_KEY, confirmed=True,
                                  tolerance=users + 2)


def _codes():
    """Codes of TOTP_KEY for this 30-second step and each one after it, in turn."""
    from binascii import unhexlify

    from django_otp.oath import TOTP

    now = time.time()
    step = 0
    while True:
        totp = TOTP(unhexlify(TOTP_KEY), step=30, t0=0, digits=6, drift=0)
        totp.time = now + 30 * step
        yield f"{totp.token():06d}"
        step += 1


def sign_in_all(port, plan, users, kinds):
    """Sign every locust user in through the real sign-in form before the measured minute, so
    20 password hashes at once (deliberately slow) do not hold up the pages being measured.
    Returns {kind: [session cookie, ...]}, one per user locust may start of that kind."""
    import http.cookiejar
    import re
    import urllib.error
    import urllib.parse
    import urllib.request

    class Stay(urllib.request.HTTPRedirectHandler):
        # The session cookie is on the sign-in's own answer; the home page it redirects to is
        # not what is measured here.
        def redirect_request(self, *args, **kwargs):
            return None

    def post(opener, url, fields):
        """POST a form from the page at `url` (its CSRF token); the redirect's location."""
        page = opener.open(url, timeout=60).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
        try:
            opener.open(urllib.request.Request(url, data=data, headers={"Referer": url}),
                        timeout=120)
        except urllib.error.HTTPError as answer:
            if answer.code == 302:
                return answer.headers.get("Location", "")
            raise SystemExit(f"{url} answered {answer.code}") from None
        return None  # the form came back: refused

    def landing(opener, url):
        """Where a signed-in person lands from `url`, redirects followed."""
        for _ in range(5):
            try:
                opener.open(url, timeout=60).read()
                return url
            except urllib.error.HTTPError as answer:
                if answer.code != 302:
                    raise SystemExit(f"{url} answered {answer.code}") from None
                url = urllib.parse.urljoin(url, answer.headers.get("Location", ""))
        raise SystemExit(f"too many redirects from {url}")

    sessions = {}
    for kind in kinds:
        sessions[kind] = []
        codes = _codes()
        for _ in range(users):
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), Stay())
            server = f"http://127.0.0.1:{port}"
            where = post(opener, f"{server}/account/sign-in/",
                         {"username": plan[kind], "password": plan["password"]})
            if where is None or "sign-in" in where:
                raise SystemExit(f"{plan[kind]} could not sign in ({where or 'refused'})")
            where = landing(opener, urllib.parse.urljoin(server, where))
            if "/two-factor/code/" in where:  # the second step, as the person would take it
                after = post(opener, where, {"code": next(codes)})
                if after is None or "/two-factor/" in after:
                    raise SystemExit(f"{plan[kind]}'s code was refused ({after or 'refused'})")
            elif "/two-factor/" in where:
                raise SystemExit(f"{plan[kind]} has no authenticator device ({where})")
            cookie = next(c.value for c in jar if c.name == "sessionid")
            sessions[kind].append(cookie)
    return sessions


def run_locust(env, port, users, run_time, prefix, classes):
    args = [str(Path(sys.executable).with_name("locust")), "-f", str(ROOT / "bench" / "locustfile.py"),
            "--headless", "--users", str(users), "--spawn-rate", str(users),
            "--run-time", f"{run_time}s", "--host", f"http://127.0.0.1:{port}",
            "--csv", str(prefix), "--only-summary", "--stop-timeout", "10",
            "--exit-code-on-error", "0", "--loglevel", "WARNING", *classes]
    subprocess.run(args, cwd=ROOT, env=env, check=True, timeout=run_time + 120)
    with open(f"{prefix}_stats.csv") as fh:
        return list(csv.DictReader(fh))


# --- 4. the result -------------------------------------------------------------------------------


def summarise(rows, limit_ms, classes):
    table, missed = [], []
    for row in rows:
        if row["Name"] == "Aggregated":
            continue
        measured = row["Name"] in MEASURED
        p95 = float(row["95%"]) if row["95%"] not in ("N/A", "") else None
        entry = {"page": row["Name"], "requests": int(row["Request Count"]),
                 "failures": int(row["Failure Count"]), "median_ms": row["Median Response Time"],
                 "p95_ms": p95, "p99_ms": row["99%"], "max_ms": round(float(row["Max Response Time"])),
                 "measured": measured}
        table.append(entry)
        if entry["failures"]:
            missed.append(f"{row['Name']}: {entry['failures']} failed requests")
        if measured and (p95 is None or p95 > limit_ms):
            missed.append(f"{row['Name']}: p95 {p95} ms > {limit_ms} ms")
    expected = [page for cls in classes for page in PAGES[cls]]
    for name in expected:
        if name not in {e["page"] for e in table}:
            missed.append(f"{name}: no requests were made")
    return table, missed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="pbr_dashboards_national")
    parser.add_argument("--server", default=harness.DEFAULT_SERVER)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--run-time", type=int, default=60, help="seconds")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--p95-ms", type=float, default=300)
    parser.add_argument("--refresh", choices=("missing", "all", "none"), default="missing")
    parser.add_argument("--with-forecast", action="store_true",
                        help="work out income forecasts too (runs the engine per contract)")
    parser.add_argument("--skip-setup", action="store_true")
    parser.add_argument("--only", nargs="+", choices=sorted(PAGES), default=sorted(PAGES),
                        help="which kinds of user to run (default: all three)")
    parser.add_argument("--out", default=str(ROOT / "var" / "bench-dashboards.json"))
    args = parser.parse_args(argv)
    if args.db in PROTECTED_DBS:
        parser.error(f"{args.db} belongs to another benchmark; generate your own copy with "
                     f"bench/national.py --db pbr_dashboards_national")
    url = harness.database_url(args.server, args.db)
    work = ROOT / "var" / "bench-dashboards"
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **harness.bench_environment(url, work, SECRET_KEY=secrets.token_urlsafe(50)))
    harness.setup_django(env)
    log(f"Migrating {args.db} ...")
    harness.migrate()
    from contracts.models import Contract
    from outcomes.models import Claim

    counts = {"contracts": Contract.objects.count(), "claims": Claim.objects.count()}
    log(f"{counts['contracts']} contracts, {counts['claims']:,} claims")
    plan_path = work / "plan.json"
    if args.skip_setup and plan_path.exists():
        plan = json.loads(plan_path.read_text())
    else:
        log("Setting up users, the auditor and a sample in progress ...")
        plan = set_up()
        plan_path.write_text(json.dumps(plan))
    log(f"Commissioner {plan['commissioner_org']} ({len(plan['contracts'])} contracts); provider "
        f"{plan['provider_org']} on {plan['provider_contract']}; {plan['sampled_claims']:,} "
        f"claims in the auditor's sample")
    log(f"Working out dashboard figures ({args.refresh}) ...")
    timings = refresh(args.refresh, args.with_forecast)
    from django.db import connections

    connections.close_all()
    port = free_port()
    env["PBR_LOAD_PLAN"] = json.dumps(plan)
    load_before = uptime()
    log(f"Starting gunicorn ({args.workers} workers) on 127.0.0.1:{port}; {load_before}")
    proc, out = start_gunicorn(env, port, args.workers, work / "gunicorn.log")
    try:
        warm_up(port)
        log(f"Signing {args.users} users of each kind in through the sign-in form ...")
        kinds = [c.lower() for c in args.only]
        authenticator_apps(plan, kinds, args.users)
        connections.close_all()
        plan["sessions"] = sign_in_all(port, plan, args.users, kinds)
        env["PBR_LOAD_PLAN"] = json.dumps(plan)
        log(f"Locust: {args.users} users for {args.run_time} s ...")
        rows = run_locust(env, port, args.users, args.run_time, work / "locust", args.only)
    finally:
        stop(proc, out)
    load_after = uptime()
    table, missed = summarise(rows, args.p95_ms, args.only)
    print(f"\n{'page':36} {'requests':>8} {'failures':>8} {'median':>7} {'p95':>6} {'max':>6}")
    for e in table:
        mark = "" if e["measured"] else "  (not measured)"
        print(f"{e['page']:36} {e['requests']:>8} {e['failures']:>8} {e['median_ms']:>7} "
              f"{e['p95_ms']!s:>6} {e['max_ms']:>6}{mark}")
    print(f"\nload before: {load_before}\nload after:  {load_after}")
    result = {"db": args.db, "counts": counts, "users": args.users, "run_time_s": args.run_time,
              "user_classes": args.only,
              "workers": args.workers, "p95_limit_ms": args.p95_ms, "pages": table,
              "missed": missed, "load_before": load_before, "load_after": load_after,
              "refresh_seconds": timings, "machine": harness.machine()}
    Path(args.out).write_text(json.dumps(result, indent=2))
    if missed:
        print("MISSED: " + "; ".join(missed))
        return 1
    print(f"All measured pages: p95 within {args.p95_ms:.0f} ms, no errors.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

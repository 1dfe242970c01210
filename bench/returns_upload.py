"""Benchmark: a 100,000-row claims CSV validated and stored through the provider upload path.

    .venv/bin/python -m bench.returns_upload [--rows 100000] [--db-name pbr_bench_returns]

What it does, in order:

1. Drops and creates a PostgreSQL database (``--db-name`` on ``--server``; ``--sqlite PATH``
   instead for a quick run without PostgreSQL), migrates it, and imports the Work Programme
   example contract (``examples/contracts/c3-work-programme.yaml``): the one example with a
   monthly calendar, payment groups, subcontractors and outcomes claimed per person at volume,
   so a big monthly return is realistic for it. (C1 and C4 have no claimable outcomes; C5's
   outcomes are a five-a-person basket for eighty people.)
2. Enrols the people the return talks about (``Participant`` rows, as earlier returns would
   have), stores one ``off_benefit_check`` evidence file through ``outcomes.evidence.store``, and
   adds a submitted December 2012 return holding the job outcomes that this month's sustainment
   payments follow on from. Then it starts the draft ``Jun 2013`` return.
3. Writes the claims CSV to disk: a quarter new people (attachment, with NI number, date of birth,
   payment group and start date), the rest people already enrolled (job entries; job outcomes
   with the spell start and the evidence number; sustainment payments), a third of them through
   the two subcontractors. Every row passes every check. A second file is the same plus one bad
   row at the very end.
4. In a fresh child process each (so the memory readings are that step's alone), calls
   ``outcomes.services.import_file`` exactly as the upload page and the API do, with the file on
   disk as an ``UploadedFile``:
   - the file with one bad last row, which must be refused whole with that row named and
     nothing saved;
   - the good file, which must store every row;
   - then (unless ``--no-submit``) ``outcomes.services.submit_return``, the automatic checks,
     which must pass every claim.
5. Prints a table (time, memory before, peak, rise, machine load) and exits 1 if a target is
   missed: upload of the good file in at most ``--max-seconds`` (30) with peak process memory
   at most ``--max-peak-mb`` (500). ``--json PATH`` also writes the numbers as JSON.

Memory: "baseline" is the child's resident set (VmRSS) once Django is loaded and the return
fetched, just before the call; "peak" is the larger of the kernel's high-water mark (VmHWM,
reset to the baseline just before the call where the kernel allows) and ``ru_maxrss``, so it
is the whole process at its largest, Django included.
"""

import argparse
import csv
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

CONTRACT_FILE = harness.ROOT / "examples" / "contracts" / "c3-work-programme.yaml"
PERIOD = "Jun 2013"
PERIOD_START = datetime.date(2013, 6, 1)
PRIOR_PERIOD = "Dec 2012"
SEGMENTS = ("JSA_18_24", "ESA_EXIB")
SUBCONTRACTORS = ("T1-NORTH", "T1-SOUTH", "")
COLUMNS = ("participant_ref", "ni_number", "date_of_birth", "segment", "start_date", "outcome",
           "achieved", "started", "step_from", "step_to", "grade", "criteria_met",
           "criteria_total", "value", "subcontractor", "evidence")
NI_PREFIXES = ("AB", "CE", "GH", "JK", "LM", "NP", "RS", "TW")


@dataclass(frozen=True)
class Plan:
    """How the rows of the return split between kinds of claim and people."""

    rows: int

    @property
    def new(self):  # attachment: people first returned this month
        return self.rows // 4

    @property
    def entries(self):  # job entry, enrolled people
        return self.rows * 15 // 100

    @property
    def outcomes(self):  # job outcome after the qualifying weeks, with evidence
        return self.rows // 4

    @property
    def sustainments(self):  # sustainment after a job outcome in an earlier return
        return self.rows - self.new - self.entries - self.outcomes

    @property
    def enrolled(self):
        return self.entries + self.outcomes + self.sustainments


def person(index):
    """Stable made-up identifiers for person `index`: reference, NI number, birth date,
    payment group and the day they joined."""
    ni = f"{NI_PREFIXES[index // 1_000_000 % len(NI_PREFIXES)]}{index % 1_000_000:06d}" \
         f"{'ABCD'[index % 4]}"
    born = datetime.date(1960, 1, 1) + datetime.timedelta(days=(index * 7919) % 14_000)
    joined = datetime.date(2011, 7, 1) + datetime.timedelta(days=index % 360)
    return f"WP-{index:07d}", ni, born, SEGMENTS[index % 2], joined


def write_claims_csv(path, plan, evidence_id, *, bad_last_row=False, seed=2013):
    """Stream the return to disk row by row; returns its size in bytes."""
    rng = random.Random(seed)
    days = [PERIOD_START + datetime.timedelta(days=d) for d in range(30)]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        index = 0

        def write(**cells):
            writer.writerow([cells.get(c, "") for c in COLUMNS])

        # Enrolled people: job entries, job outcomes, sustainment payments.
        for kind, count in (("job_entry", plan.entries), ("job_outcome", plan.outcomes),
                            ("sustainment", plan.sustainments)):
            for _ in range(count):
                ref, ni, born, segment, _joined = person(index)
                achieved = rng.choice(days)
                cells = {"participant_ref": ref, "outcome": kind, "achieved": achieved.isoformat(),
                         "subcontractor": SUBCONTRACTORS[index % 3]}
                if index % 2:  # many case systems export the identifiers every time
                    cells.update(ni_number=ni, date_of_birth=born.strftime("%d/%m/%Y"),
                                 segment=segment)
                if kind == "job_outcome":
                    cells["started"] = (achieved - datetime.timedelta(weeks=30)).isoformat()
                    cells["evidence"] = f"E{evidence_id}"
                write(**cells)
                index += 1
        # New people: attachment on the day they joined.
        for _ in range(plan.new):
            ref, ni, born, segment, _joined = person(index)
            joined = rng.choice(days)
            write(participant_ref=ref, ni_number=ni, date_of_birth=born.isoformat(),
                  segment=segment, start_date=joined.isoformat(), outcome="attachment",
                  achieved=joined.isoformat(), subcontractor=SUBCONTRACTORS[index % 3])
            index += 1
        if bad_last_row:
            ref, ni, born, segment, _joined = person(index)
            write(participant_ref=ref, ni_number=ni, date_of_birth=born.isoformat(),
                  segment=segment, start_date="2013-06-03", outcome="attachment",
                  achieved="2013-06-31")
    return os.path.getsize(path)


def enrol(plan):
    """Set-up, not measured: the people earlier returns enrolled, the evidence file, the
    December 2012 job outcomes, and the draft June 2013 return. Returns ids for the children."""
    from django.core.files.base import ContentFile

    from outcomes import evidence
    from outcomes.models import Claim, ClaimStatus, Participant, Return, ReturnStatus
    from outcomes.models import identity_hash as keyed_hash
    from outcomes.services import start_return

    provider, user, contract = harness.provider_world(CONTRACT_FILE)
    Participant.objects.bulk_create((
        Participant(contract=contract, provider=provider, provider_reference=ref,
                    identity_hash=keyed_hash(ni, born), segment=segment, start_date=joined)
        for ref, ni, born, segment, joined in map(person, range(plan.enrolled))),
        batch_size=5000)
    pdf = (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
           b"% Off-benefit checks for June 2013 job outcomes\n%%EOF\n")
    proof = evidence.store(ContentFile(pdf), "off-benefit-checks-jun-2013.pdf",
                           organisation=provider, uploaded_by=user,
                           evidence_type="off_benefit_check")
    prior = Return.objects.create(
        contract=contract, provider=provider, period_id=PRIOR_PERIOD,
        period_start=datetime.date(2012, 12, 1), period_end=datetime.date(2012, 12, 31),
        due_date=datetime.date(2013, 1, 10), status=ReturnStatus.SUBMITTED, created_by=user,
        submitted_by=user)
    first_sustainment = plan.entries + plan.outcomes
    ids = dict(Participant.objects.filter(
        provider_reference__gte=person(first_sustainment)[0]).values_list(
        "provider_reference", "pk"))
    Claim.objects.bulk_create((
        Claim(return_record=prior, participant_id=ids[person(i)[0]], outcome="job_outcome",
              achieved=datetime.date(2012, 12, 3) + datetime.timedelta(days=i % 25),
              started=datetime.date(2012, 5, 1), status=ClaimStatus.PASSED)
        for i in range(first_sustainment, plan.enrolled)), batch_size=5000)
    draft = start_return(contract, PERIOD, actor=user)
    return {"return": draft.pk, "user": user.pk, "evidence": proof.pk}


# --- the measured steps (child processes) -------------------------------------------------------


def child(args):
    harness.setup_django(dict(os.environ))
    from django.core.files.uploadedfile import UploadedFile

    from outcomes import services
    from outcomes.models import Claim, Participant, Return
    from outcomes.validation import ReturnRejected
    from pbr.models import User

    ret = Return.objects.get(pk=args.return_id)
    user = User.objects.get(pk=args.user_id)
    claims_before = Claim.objects.filter(return_record=ret).count()
    participants_before = Participant.objects.count()
    backend = harness.database_backend_pid()
    baseline = harness.proc_status()["VmRSS"]
    hwm_reset = harness.reset_peak()
    cpu_before = (harness.cpu_seconds(), harness.cpu_seconds(backend) if backend else 0.0)
    result = {"step": args.child, "baseline_rss": baseline, "load_before": harness.load_average()}
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    if args.child == "submit":
        ret = services.submit_return(ret, actor=user)
        result["seconds"] = time.perf_counter() - started
        statuses = {}
        for status in Claim.objects.filter(return_record=ret).values_list("status", flat=True):
            statuses[status] = statuses.get(status, 0) + 1
        result.update(outcome=ret.status, statuses=statuses)
    else:
        path = Path(args.file)
        with open(path, "rb") as handle:
            upload = UploadedFile(handle, name=path.name, content_type="text/csv",
                                  size=path.stat().st_size)
            try:
                kind, saved = services.import_file(ret, upload, upload.name, actor=user)
            except ReturnRejected as exc:
                result["seconds"] = time.perf_counter() - started
                result.update(outcome="refused", problems=[p.as_dict() for p in exc.problems[:5]],
                              problem_count=len(exc.problems))
            else:
                result["seconds"] = time.perf_counter() - started
                result.update(outcome="stored", kind=kind, saved=saved)
        result["claims_added"] = Claim.objects.filter(return_record=ret).count() - claims_before
        result["participants_added"] = Participant.objects.count() - participants_before
    result["cpu_python"] = harness.cpu_seconds() - cpu_before[0]
    result["cpu_database"] = harness.cpu_seconds(backend) - cpu_before[1] if backend else None
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{args.profile}-{args.child}-{result['outcome']}.prof")
    status = harness.proc_status()
    result.update(peak_rss=max(status["VmHWM"] if hwm_reset else 0, harness.ru_maxrss_bytes()),
                  vm_hwm=status["VmHWM"], ru_maxrss=harness.ru_maxrss_bytes(),
                  hwm_reset=hwm_reset, load_after=harness.load_average())
    harness.emit(result)


def run_child(env, step, ids, file=None, profile=None):
    command = [sys.executable, "-m", "bench.returns_upload", "--child", step,
               "--return-id", str(ids["return"]), "--user-id", str(ids["user"])]
    if file:
        command += ["--file", str(file)]
    if profile:
        command += ["--profile", str(profile)]
    done = subprocess.run(command, cwd=harness.ROOT, env=env, capture_output=True, text=True,
                          check=False)
    result = harness.read_result(done.stdout)
    if done.returncode != 0 or result is None:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"The {step} step failed (exit {done.returncode}).")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db-name", default="pbr_bench_returns")
    parser.add_argument("--server", default=harness.DEFAULT_SERVER,
                        help="PostgreSQL server URL without a database name.")
    parser.add_argument("--sqlite", help="Use this SQLite file instead of PostgreSQL.")
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--max-peak-mb", type=float, default=500.0)
    parser.add_argument("--no-bad-file", action="store_true",
                        help="Skip the file with one bad row at the end.")
    parser.add_argument("--no-submit", action="store_true",
                        help="Skip running the automatic checks (submission).")
    parser.add_argument("--keep", action="store_true", help="Keep the database and files.")
    parser.add_argument("--work-dir", help="Where to write the CSV files (default: a temporary "
                                           "folder).")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    parser.add_argument("--profile", help="Profile each measured step with cProfile and write "
                                          "PROFILE-<step>-<outcome>.prof (slows it down).")
    parser.add_argument("--child", choices=("import", "submit"), help=argparse.SUPPRESS)
    parser.add_argument("--return-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--user-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    plan = Plan(args.rows)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="pbr-bench-returns-"))
    work.mkdir(parents=True, exist_ok=True)
    url = harness.database_url(args.server, args.db_name, args.sqlite)
    env = harness.bench_environment(url, work)
    print(f"Database: {url}\nFiles: {work}")
    harness.recreate_database(url)
    harness.setup_django(env)
    try:
        with harness.Timer() as setup_time:
            harness.migrate()
            ids = enrol(plan)
        database = harness.database_version()
        print(f"Set-up (migrate, contract, {plan.enrolled:,} people enrolled): "
              f"{setup_time.seconds:.1f} s")
        good = work / "return-good.csv"
        size = write_claims_csv(good, plan, ids["evidence"])
        print(f"Return file: {plan.rows:,} rows, {harness.mb(size)} ({plan.new:,} new people, "
              f"{plan.entries:,} job entries, {plan.outcomes:,} job outcomes, "
              f"{plan.sustainments:,} sustainments)")
        from django.db import connections

        connections.close_all()
        results = []
        if not args.no_bad_file:
            bad = work / "return-bad-last-row.csv"
            write_claims_csv(bad, plan, ids["evidence"], bad_last_row=True)
            results.append(("Refuse: one bad row at the end",
                            run_child(env, "import", ids, bad, args.profile)))
        results.append(("Upload: validate and store",
                         run_child(env, "import", ids, good, args.profile)))
        if not args.no_submit:
            results.append(("Submit: automatic checks", run_child(env, "submit", ids, profile=args.profile)))
        failures = check(results, plan, args)
        report(results, plan, size, database, args, failures)
        if args.json:
            Path(args.json).write_text(json.dumps({
                "rows": plan.rows, "file_bytes": size, "database": database,
                "machine": harness.machine(), "targets": {"max_seconds": args.max_seconds,
                                                          "max_peak_mb": args.max_peak_mb},
                "results": dict(results), "failures": failures},
                default=str, indent=2))
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            harness.drop_database(url)
            if not args.work_dir:
                harness.clean_dir(work)
    return 1 if failures else 0


def check(results, plan, args):
    failures = []
    by_name = dict(results)
    bad = by_name.get("Refuse: one bad row at the end")
    if bad is not None:
        last_row = plan.rows + 2
        if bad["outcome"] != "refused" or bad["claims_added"] or bad["participants_added"]:
            failures.append("The file with a bad last row was not refused whole.")
        elif not any(p["row"] == last_row for p in bad["problems"]):
            failures.append(f"The refusal did not name row {last_row}.")
    good = by_name["Upload: validate and store"]
    if good["outcome"] != "stored" or good["saved"] != plan.rows \
            or good["claims_added"] != plan.rows or good["participants_added"] != plan.new:
        failures.append(f"The good file was not stored whole: {good}")
    if good["seconds"] > args.max_seconds:
        failures.append(f"Upload took {good['seconds']:.1f} s; the target is at most "
                        f"{args.max_seconds:g} s.")
    if good["peak_rss"] > args.max_peak_mb * harness.MB:
        failures.append(f"Upload peaked at {harness.mb(good['peak_rss'])}; the target is at most "
                        f"{args.max_peak_mb:g} MB.")
    submitted = by_name.get("Submit: automatic checks")
    if submitted is not None and submitted["statuses"] != {"passed": plan.rows}:
        failures.append(f"Not every claim passed the automatic checks: {submitted['statuses']}")
    return failures


def report(results, plan, size, database, args, failures):
    info = harness.machine()
    print(f"\nReturns benchmark: {plan.rows:,} rows ({harness.mb(size)}), {database}, "
          f"{info['cores']} cores, {info['memory_gb']} GB, Python {info['python']}, "
          f"{info['when']}")
    rows = []
    for name, r in results:
        outcome = r["outcome"]
        if outcome == "stored":
            outcome = f"stored {r['saved']:,} rows"
        elif outcome == "refused":
            outcome = f"refused ({r['problem_count']} problem, row {r['problems'][0]['row']})"
        elif "statuses" in r:
            outcome = ", ".join(f"{v:,} {k}" for k, v in sorted(r["statuses"].items()))
        cpu = f"{r['cpu_python']:.1f} + {r['cpu_database']:.1f} s" \
            if r["cpu_database"] is not None else f"{r['cpu_python']:.1f} s"
        rows.append((name, f"{r['seconds']:.1f} s", cpu, harness.mb(r["baseline_rss"]),
                     harness.mb(r["peak_rss"]), harness.mb(r["peak_rss"] - r["baseline_rss"]),
                     f"{r['load_before']['1min']:.2f} / {r['load_after']['1min']:.2f}", outcome))
    print(harness.table(rows, ("step", "time", "CPU python + db", "baseline", "peak", "rise",
                               "load 1m before/after", "result")))
    print(f"\nTargets for the upload: at most {args.max_seconds:g} s and "
          f"{args.max_peak_mb:g} MB peak.")
    for failure in failures:
        print(f"MISSED: {failure}")
    if not failures:
        print("All targets met.")


if __name__ == "__main__":
    sys.exit(main())

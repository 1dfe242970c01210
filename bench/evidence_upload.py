"""Benchmark: a 50 MB evidence upload through the real server raises its memory by < 20 MB.

    .venv/bin/python -m bench.evidence_upload [--mb 50] [--kind csv] [--db-name pbr_bench_evidence]

What it does, in order:

1. Drops and creates a PostgreSQL database (``--db-name`` on ``--server``; ``--sqlite PATH``
   instead for a quick run without PostgreSQL), migrates it, and adds a provider organisation
   with a provider manager who can sign in.
2. Writes the evidence file to disk in 1 MB pieces, never whole in memory: by default a CSV
   (an off-benefit check extract, the heaviest kind to check, since every line is decoded and
   every cell looked at); ``--kind txt`` or ``--kind pdf`` for the others.
3. Starts the application as it runs in production: gunicorn, one sync worker
   (``--server-cmd runserver`` for Django's development server instead), with the configurable
   evidence size limit (``EVIDENCE_MAX_BYTES``, 20 MB by default) raised above the file's size.
4. Signs in through the sign-in page, then posts a 1 MB file of the same kind to
   ``/returns/evidence/`` to warm the worker up (modules load on first use), and records the
   worker's resident memory (VmRSS) as the baseline.
5. Uploads the file to ``/returns/evidence/`` as the browser form does (multipart/form-data
   with the CSRF token), sending it from disk in 64 KB pieces with a Content-Length, while a
   thread reads the worker's VmRSS every 5 ms; the kernel's high-water mark (VmHWM, reset to
   the baseline just before) catches any peak between two readings.
6. Checks the upload was stored (an EvidenceFile of the right size and SHA-256), prints a table,
   and exits 1 if the rise (peak minus baseline) is not below ``--max-rise-mb`` (20).
"""

import argparse
import hashlib
import http.client
import http.cookies
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

PIECE = 1024 * 1024
SEND_CHUNK = 64 * 1024


# --- the file ----------------------------------------------------------------------------------


def write_evidence(path, size, kind):
    """Write a valid evidence file of exactly `size` bytes to disk, a piece at a time."""
    digest = hashlib.sha256()
    written = 0
    with open(path, "wb") as handle:

        def put(data):
            nonlocal written
            handle.write(data)
            digest.update(data)
            written += len(data)

        if kind == "pdf":
            head = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            tail = b"\ntrailer << /Root 1 0 R >>\n%%EOF\n"
            line = b"(Off-benefit check 000000: claimant confirmed off benefit) Tj\n"
        elif kind == "csv":
            head = b"participant_ref,check_date,benefit,result,checked_by\n"
            tail = b""
            line = b"WP-0000000,2013-06-14,JSA,off benefit,DWP matching service\n"
        else:
            head = b"Off-benefit checks, June 2013\n\n"
            tail = b""
            line = b"WP-0000000 checked on 14 June 2013: off benefit since 2 January 2013.\n"
        put(head)
        lines_per_piece = max(1, PIECE // len(line))
        number = 0
        while count := min(lines_per_piece, (size - len(tail) - written) // len(line)):
            put(b"".join(line.replace(b"0000000", b"%07d" % ((number + i) % 10_000_000))
                         for i in range(count)))
            number += count
        room = size - len(tail) - written
        if room > 0:  # the last few bytes: a line of spaces, valid in every kind
            put(b" " * (room - 1) + b"\n")
        put(tail)
    return written, digest.hexdigest()


# --- the server --------------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env, port, command, log_path):
    if command == "gunicorn":
        args = [str(Path(sys.executable).with_name("gunicorn")), "pbr.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "sync",
                "--timeout", "300", "--log-level", "warning"]
    else:
        args = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload",
                "--nothreading"]
    log = open(log_path, "w")  # noqa: SIM115 - closed by stop_server
    proc = subprocess.Popen(args, cwd=harness.ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"The server exited early; see {log_path}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        stop_server(proc, log)
        raise SystemExit(f"The server did not start within 60 s; see {log_path}")
    return proc, log


def worker_pid(proc, command):
    """The process that handles requests: gunicorn's worker, or runserver itself."""
    if command != "gunicorn":
        return proc.pid
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        except FileNotFoundError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise SystemExit("gunicorn started no worker.")


def stop_server(proc, log):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log.close()


# --- a browser's requests, by hand -------------------------------------------------------------


class Browser:
    """Cookies and the CSRF token, as a browser keeps them; one request at a time."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        self._keep_cookies(response)
        conn.close()
        return response.status, response.getheader("Location", ""), data

    def _keep_cookies(self, response):
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = http.cookies.SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value

    def csrf_token(self, path):
        status, _location, page = self.request("GET", path)
        if status != 200:
            raise SystemExit(f"GET {path} answered {status}.")
        found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if not found:
            raise SystemExit(f"No CSRF token on {path}.")
        return found.group(1).decode()

    def sign_in(self, username, password):
        token = self.csrf_token("/account/sign-in/")
        status, location, _ = self.request(
            "POST", "/account/sign-in/",
            body=urlencode({"csrfmiddlewaretoken": token, "username": username,
                            "password": password}),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise SystemExit(f"Signing in answered {status}, not a redirect.")
        return location

    def upload(self, path, file_path, filename, fields):
        """POST a multipart form with the file sent from disk in pieces, as a browser does."""
        token = self.csrf_token(path)
        boundary = f"----pbr-bench-{uuid.uuid4().hex}"
        preamble = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            .encode() for name, value in {"csrfmiddlewaretoken": token, **fields}.items())
        preamble += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                     ).encode()
        epilogue = f"\r\n--{boundary}--\r\n".encode()
        length = len(preamble) + os.path.getsize(file_path) + len(epilogue)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(length))
        conn.putheader("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        conn.endheaders()
        conn.send(preamble)
        with open(file_path, "rb") as handle:
            while block := handle.read(SEND_CHUNK):
                conn.send(block)
        conn.send(epilogue)
        response = conn.getresponse()
        page = response.read()
        self._keep_cookies(response)
        conn.close()
        return response.status, response.getheader("Location", ""), page


class Sampler(threading.Thread):
    """Reads a process's VmRSS every few milliseconds until stopped; keeps the largest."""

    def __init__(self, pid, interval=0.005):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.samples = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, harness.proc_status(self.pid)["VmRSS"])
            self.samples += 1
            time.sleep(self.interval)

    def stop(self):
        self.done.set()
        self.join()
        return self.peak


# --- the run -----------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="Size of the evidence file.")
    parser.add_argument("--kind", choices=("csv", "txt", "pdf"), default="csv")
    parser.add_argument("--db-name", default="pbr_bench_evidence")
    parser.add_argument("--server", default=harness.DEFAULT_SERVER,
                        help="PostgreSQL server URL without a database name.")
    parser.add_argument("--sqlite", help="Use this SQLite file instead of PostgreSQL.")
    parser.add_argument("--server-cmd", choices=("gunicorn", "runserver"), default="gunicorn")
    parser.add_argument("--max-rise-mb", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true", help="Keep the database and files.")
    parser.add_argument("--work-dir", help="Where to write the file and the server's log "
                                           "(default: a temporary folder).")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args(argv)

    size = int(args.mb * harness.MB)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="pbr-bench-evidence-"))
    work.mkdir(parents=True, exist_ok=True)
    url = harness.database_url(args.server, args.db_name, args.sqlite)
    env = harness.bench_environment(url, work, EVIDENCE_MAX_BYTES=size + 16 * harness.MB)
    print(f"Database: {url}\nFiles: {work}")
    harness.recreate_database(url)
    harness.setup_django(env)
    proc = log = None
    try:
        harness.migrate()
        provider, _user, _contract = harness.provider_world(None)
        database = harness.database_version()
        from django.db import connections

        connections.close_all()
        big = work / f"off-benefit-checks.{args.kind}"
        written, sha256 = write_evidence(big, size, args.kind)
        small = work / f"warm-up.{args.kind}"
        write_evidence(small, min(size, PIECE), args.kind)
        print(f"Evidence file: {big.name}, {harness.mb(written)}")

        port = free_port()
        proc, log = start_server(dict(os.environ, **env), port, args.server_cmd,
                                 work / "server.log")
        pid = worker_pid(proc, args.server_cmd)
        browser = Browser(port)
        browser.sign_in(harness.PROVIDER_USERNAME, harness.PROVIDER_PASSWORD)
        status, location, page = browser.upload("/returns/evidence/", small, small.name,
                                                {"evidence_type": "off_benefit_check"})
        if status != 302:
            raise SystemExit(f"The warm-up upload answered {status}: {page[:500]!r}")
        time.sleep(0.5)
        load_before = harness.load_average()
        baseline = harness.proc_status(pid)["VmRSS"]
        hwm_reset = harness.reset_peak(pid)
        sampler = Sampler(pid)
        sampler.start()
        with harness.Timer() as timer:
            status, location, page = browser.upload("/returns/evidence/", big, big.name,
                                                    {"evidence_type": "off_benefit_check"})
        sampled_peak = sampler.stop()
        after = harness.proc_status(pid)
        peak = max(sampled_peak, after["VmHWM"] if hwm_reset else 0)
        load_after = harness.load_average()
        if status != 302:
            raise SystemExit(f"The upload answered {status}: {page[:800]!r}")

        from outcomes.models import EvidenceFile

        stored = EvidenceFile.objects.filter(organisation=provider, sha256=sha256).first()
        result = {
            "file_bytes": written, "kind": args.kind, "server": args.server_cmd,
            "database": database, "seconds": timer.seconds, "baseline_rss": baseline,
            "peak_rss": peak, "sampled_peak_rss": sampled_peak, "vm_hwm": after["VmHWM"],
            "hwm_reset": hwm_reset, "rss_after": after["VmRSS"], "rise": peak - baseline,
            "samples": sampler.samples, "stored": bool(stored and stored.size == written),
            "load_before": load_before, "load_after": load_after, "machine": harness.machine(),
        }
        failures = []
        if not result["stored"]:
            failures.append("The evidence file was not stored with its size and SHA-256.")
        if result["rise"] >= args.max_rise_mb * harness.MB:
            failures.append(f"The worker's memory rose by {harness.mb(result['rise'])}; the "
                            f"target is less than {args.max_rise_mb:g} MB.")
        report(result, failures, args)
        if args.json:
            Path(args.json).write_text(json.dumps({"result": result, "failures": failures},
                                                  default=str, indent=2))
    finally:
        if proc is not None:
            stop_server(proc, log)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            harness.drop_database(url)
            if not args.work_dir:
                harness.clean_dir(work)
    return 1 if failures else 0


def report(result, failures, args):
    info = result["machine"]
    print(f"\nEvidence benchmark: {harness.mb(result['file_bytes'])} {result['kind'].upper()} "
          f"through {result['server']}, {result['database']}, {info['cores']} cores, "
          f"{info['memory_gb']} GB, Python {info['python']}, {info['when']}")
    print(harness.table([(
        "Upload 50 MB evidence" if result["file_bytes"] == 50 * harness.MB else
        f"Upload {harness.mb(result['file_bytes'])} evidence",
        f"{result['seconds']:.1f} s", harness.mb(result["baseline_rss"]),
        harness.mb(result["peak_rss"]), harness.mb(result["rise"]),
        f"{result['load_before']['1min']:.2f} / {result['load_after']['1min']:.2f}",
        "stored" if result["stored"] else "NOT stored")],
        ("step", "time", "worker baseline", "worker peak", "rise", "load 1m before/after",
         "result")))
    print(f"\nTarget: the worker's memory rises by less than {args.max_rise_mb:g} MB "
          f"({result['samples']} readings, high-water mark "
          f"{'reset' if result['hwm_reset'] else 'not resettable'}).")
    for failure in failures:
        print(f"MISSED: {failure}")
    if not failures:
        print("All targets met.")


if __name__ == "__main__":
    sys.exit(main())

"""The benchmarks in bench/ still run: each at a tiny scale, as a subprocess, against its own
fresh database (PostgreSQL when the suite runs on it, else a SQLite file), reporting numbers.

The full-size runs and their results are in docs/performance.md; these only keep the scripts
working as the code under them changes.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _database_args(tmp_path, name):
    from django.conf import settings

    database = settings.DATABASES["default"]
    if "postgresql" in database["ENGINE"]:
        user = database.get("USER") or "postgres"
        password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
        server = (f"postgres://{user}{password}@{database.get('HOST') or '127.0.0.1'}:"
                  f"{database.get('PORT') or 5432}")
        return ["--server", server, "--db-name", f"pbr_bench_smoke_{name}_{os.getpid()}"]
    return ["--sqlite", str(tmp_path / f"{name}.sqlite3")]


def _run(module, args, tmp_path):
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, "-m", module, *args, "--work-dir",
                           str(tmp_path / "work"), "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_returns_benchmark_runs_small(tmp_path):
    result, printed = _run("bench.returns_upload",
                           ["--rows", "200", *_database_args(tmp_path, "returns")], tmp_path)
    steps = result["results"]
    refused = steps["Refuse: one bad row at the end"]
    stored = steps["Upload: validate and store"]
    submitted = steps["Submit: automatic checks"]
    assert refused["outcome"] == "refused" and refused["claims_added"] == 0
    assert refused["problems"][0]["row"] == 202  # the last row, after the heading and 200 rows
    assert stored["outcome"] == "stored" and stored["saved"] == stored["claims_added"] == 200
    assert stored["participants_added"] == 50  # the quarter of rows that are new people
    assert submitted["statuses"] == {"passed": 200}
    for step in (refused, stored, submitted):
        assert step["seconds"] > 0
        assert 0 < step["baseline_rss"] <= step["peak_rss"]
    assert result["failures"] == []
    assert "All targets met." in printed and "Upload: validate and store" in printed


def test_evidence_benchmark_runs_small(tmp_path):
    result, printed = _run("bench.evidence_upload",
                           ["--mb", "1", *_database_args(tmp_path, "evidence")], tmp_path)
    upload = result["result"]
    assert upload["stored"] is True
    assert upload["file_bytes"] == 1024 * 1024
    assert upload["samples"] > 0 and 0 < upload["baseline_rss"] <= upload["peak_rss"]
    assert upload["rise"] == upload["peak_rss"] - upload["baseline_rss"]
    assert result["failures"] == []
    assert "All targets met." in printed


@pytest.mark.parametrize("kind", ["csv", "txt", "pdf"])
def test_generated_evidence_is_exactly_the_size_asked_and_accepted(tmp_path, kind, db):
    """The benchmark's file is valid evidence of its kind, checked by the real inspection."""
    from bench.evidence_upload import write_evidence
    from outcomes import evidence

    path = tmp_path / f"e.{kind}"
    size = 300_001
    written, sha256 = write_evidence(path, size, kind)
    assert written == size == path.stat().st_size
    with open(path, "rb") as handle:
        tmp, spooled, digest = evidence.spool(handle, size)
        with tmp:
            assert (spooled, digest) == (size, sha256)
            kind_found, _content_type = evidence.inspect(tmp, spooled, path.name)
    assert kind_found == kind

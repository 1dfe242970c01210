"""PDF statements: a real PDF whose text carries every line, the totals and DRAFT until approved;
the same scope as the HTML statement; WeasyPrint never fetches anything from the network."""

import socket

import pytest

from payments.engine import Facts
from payments.models import PaymentRun
from payments.pdf import STATIC_DIR, RefusedFetch, render_statement_pdf, static_only_fetcher
from payments.services import approve_run, build_statement
from pbr.models import Role
from tests.engine.test_case_c3 import participant_a
from tests.payments.statement_helpers import pdf_text, runner_for, squash

pytestmark = pytest.mark.django_db


@pytest.fixture
def c3_march(world_a):
    runner = runner_for(world_a, "c3-work-programme.yaml", Facts(claims=tuple(participant_a())))
    runner.run_all(until="Mar 2012")
    return PaymentRun.objects.get(contract=runner.contract, period_id="Mar 2012")


def test_pdf_statement_is_a_pdf_with_every_line_and_the_totals(client, world_a, c3_march):
    client.force_login(world_a.users[Role.PROVIDER_MANAGER])
    response = client.get(f"/payments/runs/{c3_march.pk}/statement.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        'attachment; filename="statement-C3-WORK-PROGRAMME-Mar-2012-DRAFT.pdf"')
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    data = build_statement(c3_march)
    assert data["lines"], "the fixture must post lines in Mar 2012"
    assert f"Total payable: £{data['total']:,.2f}" in text
    for line in data["lines"]:
        assert squash(line.explanation) in text, line.explanation
        for ref in line.references:
            assert ref in text
    # The job outcome: £1,200 to the prime, £1,020 to T1-NORTH after the 15% fee (C3).
    assert "£1,200.00" in text
    assert "Northern Employment Trust" in text and "£1,020.00" in text and "£180.00" in text
    assert f"Kept by the prime (Example Prime plc) £{data['prime_retained']:,.2f}" in text
    assert f"Department for Work and Pensions 100% £{data['total']:,.2f} £{data['total']:,.2f}" \
        in text
    assert "DRAFT" in text


def test_approved_statement_is_not_marked_draft(client, world_a, c3_march):
    approve_run(c3_march, actor=world_a.users[Role.COMMISSIONER])
    client.force_login(world_a.users[Role.COMMISSIONER])
    response = client.get(f"/payments/runs/{c3_march.pk}/statement.pdf")
    assert response["Content-Disposition"] == (
        'attachment; filename="statement-C3-WORK-PROGRAMME-Mar-2012.pdf"')
    text = pdf_text(response.content)
    assert "DRAFT" not in text
    assert "Approved by" not in text  # the display name reads "approved by <name> on <date>"
    assert "approved by" in text


def test_another_organisations_user_gets_404(client, world_a, world_b, c3_march):
    for user in world_b.users.values():
        client.force_login(user)
        assert client.get(f"/payments/runs/{c3_march.pk}/statement.pdf").status_code == 404


def test_anonymous_is_sent_to_sign_in(client, c3_march):
    response = client.get(f"/payments/runs/{c3_march.pk}/statement.pdf")
    assert response.status_code == 302 and response["Location"].startswith("/account/sign-in/")


def test_fetcher_serves_only_our_static_files():
    fetcher = static_only_fetcher()
    css = (STATIC_DIR / "css" / "statement-print.css").as_uri()
    response = fetcher.fetch(css)
    assert b"@page" in response.read()
    for url in ("http://127.0.0.1:9/logo.png", "https://example.org/x.css", "file:///etc/passwd",
                (STATIC_DIR / ".." / "manage.py").as_uri(), "data:text/css,body{}",
                "file://evil.example/share/x.css"):
        with pytest.raises(RefusedFetch):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 6


def test_rendering_never_opens_a_network_connection(monkeypatch, c3_march):
    """Text on a statement is escaped; and even markup that names a URL is never fetched."""
    opened = []

    def no_network(self, *args, **kwargs):
        opened.append(args)
        raise AssertionError("the PDF renderer tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    data = build_statement(c3_march)
    data["title"] = '<img src="http://127.0.0.1:9/tracker.png">'
    fetcher = static_only_fetcher()
    pdf = render_statement_pdf(c3_march, data, fetcher=fetcher)
    assert pdf.startswith(b"%PDF-") and not opened
    # the escaped markup is text on the page, not an image to load
    assert '<img src="http://127.0.0.1:9/tracker.png">' in pdf_text(pdf)
    assert fetcher.refused == []

    from weasyprint import HTML

    hostile = static_only_fetcher()
    HTML(string='<link rel="stylesheet" href="https://example.org/x.css">'
                '<img src="http://127.0.0.1:9/x.png"><p>hello</p>',
         base_url=STATIC_DIR.as_uri() + "/", url_fetcher=hostile).write_pdf()
    assert sorted(hostile.refused) == ["http://127.0.0.1:9/x.png", "https://example.org/x.css"]
    assert not opened


def test_statement_page_links_to_the_pdf(client, world_a, c3_march):
    client.force_login(world_a.users[Role.COMMISSIONER])
    page = client.get(f"/payments/runs/{c3_march.pk}/").content.decode()
    assert f"/payments/runs/{c3_march.pk}/statement.pdf" in page

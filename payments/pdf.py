"""PDF statements: the HTML statement's data (``build_statement``) laid out for print.

WeasyPrint never reaches the network. Its URL fetcher serves only files inside this project's own
``static/`` folder (the print stylesheet) and refuses everything else, so no text on a statement
(an explanation, a reference, a party's name) can make the server fetch a URL.
"""

import mimetypes
import re
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

STATIC_DIR = Path(settings.BASE_DIR) / "static"


class RefusedFetch(ValueError):
    """A URL the PDF renderer was not allowed to load."""


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse, path2url

    class StaticOnlyFetcher(URLFetcher):
        """Serves files under ``root`` from disk; refuses every other URL without opening it."""

        def __init__(self, root=STATIC_DIR):
            super().__init__(allowed_protocols=("file",), allow_redirects=False)
            self.root = Path(root).resolve()
            self.refused = []

        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            path = None
            if parts.scheme == "file" and parts.netloc in ("", "localhost"):
                path = Path(url2pathname(parts.path)).resolve()
            if path is None or not path.is_relative_to(self.root) or not path.is_file():
                self.refused.append(url)
                raise RefusedFetch(f"PDF statements load only the service's own static files; "
                                   f"refused {url[:200]}")
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path2url(str(path)), body=path.read_bytes(),
                                      headers={"Content-Type": content_type})

    return StaticOnlyFetcher


def static_only_fetcher(root=STATIC_DIR):
    return _fetcher_class()(root)


def statement_filename(statement):
    """e.g. statement-C1-DERBYSHIRE-P4-2013-14-DRAFT.pdf: contract, period, and DRAFT until
    approved, so a draft saved to disk is never mistaken for the approved statement."""
    name = f"statement-{statement['contract']}-{statement['period']}"
    if statement["is_draft"]:
        name += "-DRAFT"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") + ".pdf"


def render_statement_html(run, statement, *, generated_at=None):
    return render_to_string("payments/statement_pdf.html", {
        "run": run, "statement": statement,
        "generated_at": generated_at or timezone.now(),
    })


def render_statement_pdf(run, statement, *, generated_at=None, fetcher=None):
    """The statement as PDF bytes."""
    from weasyprint import HTML

    html = render_statement_html(run, statement, generated_at=generated_at)
    fetcher = fetcher or static_only_fetcher()
    document = HTML(string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=fetcher)
    return document.write_pdf()

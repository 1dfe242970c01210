"""What the browser tests share: signing in and out through the real pages."""

import time
from binascii import unhexlify

from pbr.demo import DEMO_PASSWORD

CODE_PAGE = "/account/two-factor/code/"
SET_UP_PAGE = "/account/two-factor/set-up/"


def sign_in(page, live_server, username, password=DEMO_PASSWORD):
    """Sign in through the sign-in page, as a person would; for someone asked for a two-factor
    code, type the code their authenticator app would show (ADR 0015): on the code page from
    their device's key in the database, on the set-up page from the key the page shows."""
    page.goto(f"{live_server.url}/account/sign-in/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    path = page.url.removeprefix(live_server.url).split("?")[0]
    if path == CODE_PAGE:
        enter_code(page, code_for_user(username))
    elif path == SET_UP_PAGE:
        secret = page.inner_text("#secret-key")
        enter_code(page, code_for_key(_hex_from_base32(secret)))


def enter_code(page, code):
    page.fill("#id_code", code)
    page.click("button:has-text('Continue'), button:has-text('Turn on two-factor authentication')")
    page.wait_for_load_state()


def code_for_user(username):
    """The current code of the user's confirmed device. A code is accepted once: if this one was
    used already (the same person signed in within the last 30 seconds), wait for the next."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    while _step(device.step) <= device.last_t:
        time.sleep(device.step - time.time() % device.step + 0.1)
    return code_for_key(device.key, device.step, device.digits)


def code_for_key(hex_key, step=30, digits=6):
    from django_otp.oath import totp

    return f"{totp(unhexlify(hex_key.encode()), step=step, digits=digits):0{digits}d}"


def _step(step):
    return int(time.time()) // step


def _hex_from_base32(text):
    from base64 import b32decode

    return b32decode("".join(text.split())).hex()


def sign_out(page):
    page.click("button:has-text('Sign out')")


# --- data the verification and CSP browser tests share ------------------------------------------


def use_private_evidence(settings, tmp_path):
    """Evidence files for this test go under tmp_path (removed with it)."""
    import copy

    storages = copy.deepcopy(settings.STORAGES)
    storages["evidence"]["OPTIONS"]["location"] = str(tmp_path / "evidence")
    settings.STORAGES = storages
    settings.EVIDENCE_ROOT = tmp_path / "evidence"


def northshire_c3(orgs):
    """The C3 example, published for Northshire with Pathway as prime and Clearview as auditor."""
    from contracts.definition import load_document
    from contracts.services import import_contract
    from tests.outcomes.conftest import EXAMPLES

    return import_contract(load_document(EXAMPLES / "c3-work-programme.yaml"),
                           commissioner=orgs["northshire-council"],
                           links={"PRIME": orgs["pathway-housing"]},
                           auditor=orgs["clearview-assurance"], publish=True)


def sampled_march_return(contract, provider, auditor):
    """Pathway's March 2012 return: one job outcome (CASE-7) with a payslip (PDF) and an
    employer's letter (PNG), submitted, then selected by a seeded sample. Returns the return."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from outcomes import evidence
    from outcomes.services import add_rows, start_return, submit_return
    from outcomes.verification.services import draw_sample
    from tests.verification.conftest import pdf_bytes, png_bytes

    organisation = provider.organisation
    payslip = evidence.store(SimpleUploadedFile("payslip.pdf", pdf_bytes("Payslip: week 26")),
                             "payslip.pdf", organisation=organisation, uploaded_by=provider,
                             evidence_type="off_benefit_check")
    letter = evidence.store(SimpleUploadedFile("employer-letter.png", png_bytes(160, 90)),
                            "employer-letter.png", organisation=organisation,
                            uploaded_by=provider, evidence_type="employer_letter")
    march = start_return(contract, "Mar 2012", actor=provider)
    add_rows(march, [(2, {
        "participant_ref": "CASE-7", "ni_number": "AB123456C", "date_of_birth": "1990-05-01",
        "segment": "JSA_18_24", "start_date": "2011-07-04", "outcome": "job_outcome",
        "achieved": "2012-03-05", "started": "2011-09-05",
        "evidence": f"E{payslip.pk};E{letter.pk}"})], actor=provider)
    submit_return(march, actor=provider)
    draw_sample(contract, actor=auditor, seed=2012)
    return march

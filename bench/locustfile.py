"""Locust users for the dashboards load test (run by bench/dashboards_load.py; see
docs/performance.md, "Dashboards").

Three kinds of people, each signed in once (by the runner, through the sign-in form, before
the measured minute): a commissioner opening the programme dashboard, a
contract's dashboard and the equity view; a provider listing its claims with filters; an
auditor working through the verification queue. Only the loopback server the runner started is
ever addressed: the runner passes --host http://127.0.0.1:<port>.

Everything the users need (usernames, password, contract ids and references, periods) comes
from the runner in the environment variable PBR_LOAD_PLAN, as JSON.
"""

import json
import os
import random
import re

from locust import HttpUser, between, task

PLAN = json.loads(os.environ.get("PBR_LOAD_PLAN", "{}"))
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class SignedIn(HttpUser):
    abstract = True
    wait_time = between(0.5, 1.5)
    username = ""
    kind = ""

    def on_start(self):
        """Take a session the runner signed in through the sign-in form; without one (locust
        run by hand), sign in here: enough for a provider, but commissioners and auditors
        then still owe a two-factor code (ADR 0015), which only the runner enters."""
        sessions = PLAN.get("sessions", {}).get(self.kind)
        if sessions:
            self.client.cookies.set("sessionid", sessions.pop())
            return
        page = self.client.get("/account/sign-in/", name="sign in (form)")
        token = CSRF.search(page.text)
        with self.client.post("/account/sign-in/", name="sign in", catch_response=True,
                              allow_redirects=False,
                              data={"username": self.username, "password": PLAN["password"],
                                    "csrfmiddlewaretoken": token.group(1) if token else ""},
                              headers={"Referer": f"{self.host}/account/sign-in/"}) as response:
            if response.status_code != 302:
                response.failure(f"sign-in answered {response.status_code}")

    def page(self, url, name, expect):
        """GET a page; it fails unless it is a 200 that says what the page must say."""
        with self.client.get(url, name=name, catch_response=True,
                             allow_redirects=False) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
            elif expect not in response.text:
                response.failure(f"page without {expect!r}")


class Commissioner(SignedIn):
    weight = 2

    def on_start(self):
        self.kind, self.username = "commissioner", PLAN["commissioner"]
        super().on_start()

    @task(3)
    def programme(self):
        self.page("/dashboards/", "commissioner dashboard", "Programme dashboard")

    @task(2)
    def contract(self):
        pk = random.choice(PLAN["contracts"])
        self.page(f"/dashboards/contracts/{pk}/", "contract dashboard", "Key figures")

    @task(1)
    def equity(self):
        self.page("/dashboards/equity/", "equity view", "How flags are worked out")


class Provider(SignedIn):
    weight = 2

    def on_start(self):
        self.kind, self.username = "provider", PLAN["provider"]
        super().on_start()

    @task
    def filtered_claims(self):
        period = random.choice(PLAN["periods"])
        status = random.choice(("passed", "verified", ""))
        self.page(f"/returns/claims/?contract={PLAN['provider_contract']}&period={period}"
                  f"&status={status}&outcome=", "provider claim list (filtered)", "Claims")


class Auditor(SignedIn):
    weight = 1

    def on_start(self):
        self.kind, self.username = "auditor", PLAN["auditor"]
        super().on_start()

    @task(3)
    def queue(self):
        self.page("/verification/", "auditor queue", "Verification queue")

    @task(1)
    def queue_for_a_contract(self):
        pk = random.choice(PLAN["contracts"])
        self.page(f"/verification/?contract={pk}&page={random.randint(1, 3)}",
                  "auditor queue (by contract)", "Verification queue")

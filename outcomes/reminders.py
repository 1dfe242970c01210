"""Return deadlines: when each period's return is due, reminders, late marks and period locks.

The contract format has no submission deadline, so a period's return is due
settings.PBR_RETURN_DUE_DAYS after the period ends (outcomes.services.return_due_date), and the
period's claim window closes settings.PBR_CLAIM_WINDOW_DAYS after it ends (plus the calendar's
post_contract_claim_days for the contract's last period). See docs/returns-format.md.

Everything here is a function of `today` (the local date in Europe/London), so the nightly task
and the pages agree, and tests can move the clock.
"""

import datetime
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from contracts.definition import periods as contract_periods
from contracts.models import Contract, ContractParty, PartyRole, TermsStatus, TermsVersion
from pbr import audit
from pbr.models import Role, User

from . import services
from .models import ReminderKind, Return, ReturnReminder, ReturnStatus

log = logging.getLogger(__name__)

DELIVERING = (PartyRole.PRIME, PartyRole.SUBCONTRACTOR)


@dataclass(frozen=True)
class Deadline:
    """One provider's return for one period of one contract, whether or not it has been started."""

    contract: Contract
    provider_id: int
    provider_name: str
    period_id: str
    period_start: datetime.date
    period_end: datetime.date
    due_date: datetime.date
    closes_on: datetime.date  # last day of the claim window; locked from the day after
    draft: Return | None  # the open draft (version 1), if started and not submitted
    submitted: bool  # some version has been submitted

    def days_left(self, today):
        return (self.due_date - today).days

    def is_overdue(self, today):
        return not self.submitted and today > self.due_date

    def label(self, today):
        return due_label(self.due_date, today, submitted=self.submitted)


def due_label(due_date, today, *, submitted=False):
    """'Due in 3 days', 'Due today', 'Overdue by 1 day'; empty once submitted."""
    if submitted:
        return ""
    days = (due_date - today).days
    if days > 1:
        return f"Due in {days} days"
    if days == 1:
        return "Due tomorrow"
    if days == 0:
        return "Due today"
    return f"Overdue by {-days} day{'s' if days != -1 else ''}"


def return_due_label(ret, today):
    """The label for a stored return: only a first version still in draft can be due; an
    amendment is not held to the original deadline."""
    return due_label(ret.due_date, today,
                     submitted=not ret.is_editable or ret.supersedes_id is not None)


def closes_on(period, all_periods, definition):
    """The last day claims for a period can be submitted; the period is locked the day after."""
    extra = definition.calendar.post_contract_claim_days if period is all_periods[-1] else 0
    return period.end + timedelta(days=settings.PBR_CLAIM_WINDOW_DAYS + extra)


def _current_definitions(contract_ids):
    """Contract id -> definition of its latest published terms (as start_return uses)."""
    latest = {}
    for version in (TermsVersion.objects.filter(contract_id__in=contract_ids,
                                                status=TermsStatus.PUBLISHED)
                    .order_by("contract_id", "effective_from", "number")):
        latest[version.contract_id] = version
    return {cid: version.definition() for cid, version in latest.items()}


def open_deadlines(today, *, contracts=None, provider_id=None):
    """Every return expected and still open on `today`: for each organisation delivering a
    published contract, each period that has started and whose claim window has not closed.

    A fixed number of queries, however many contracts, periods and returns there are.
    """
    parties = (ContractParty.objects.filter(role__in=DELIVERING, organisation__isnull=False,
                                            contract__versions__status=TermsStatus.PUBLISHED)
               .select_related("contract", "organisation").order_by("contract__reference", "pk"))
    if contracts is not None:
        parties = parties.filter(contract__in=contracts)
    if provider_id is not None:
        parties = parties.filter(organisation_id=provider_id)
    pairs = {}
    for party in parties:
        pairs.setdefault((party.contract_id, party.organisation_id), party)
    if not pairs:
        return []
    definitions = _current_definitions({c for c, _p in pairs})
    schedules = {}
    earliest_end = None
    for contract_id, definition in definitions.items():
        all_periods = contract_periods(definition)
        open_periods = []
        for period in all_periods:
            last_day = closes_on(period, all_periods, definition)
            if period.start <= today <= last_day:
                open_periods.append((period, last_day))
                if earliest_end is None or period.end < earliest_end:
                    earliest_end = period.end
        schedules[contract_id] = open_periods
    if earliest_end is None:
        return []
    returns = {}
    for ret in (Return.objects.filter(contract_id__in=schedules,
                                      provider_id__in={p for _c, p in pairs},
                                      period_end__gte=earliest_end)
                .order_by("version")):
        returns.setdefault((ret.contract_id, ret.provider_id, ret.period_id), []).append(ret)
    deadlines = []
    for (contract_id, provider_id_), party in pairs.items():
        for period, last_day in schedules.get(contract_id, []):
            versions = returns.get((contract_id, provider_id_, period.id), [])
            submitted = any(r.status != ReturnStatus.DRAFT for r in versions)
            draft = next((r for r in versions if r.status == ReturnStatus.DRAFT
                          and r.supersedes_id is None), None)
            due = versions[0].due_date if versions else services.return_due_date(period.end)
            deadlines.append(Deadline(
                contract=party.contract, provider_id=provider_id_,
                provider_name=party.organisation.name, period_id=period.id,
                period_start=period.start, period_end=period.end, due_date=due,
                closes_on=last_day, draft=draft, submitted=submitted))
    deadlines.sort(key=lambda d: (d.due_date, d.contract.reference, d.provider_name))
    return deadlines


def deadlines_for(user, today):
    """The open, unsubmitted returns a user should see: a provider its own, a commissioner or
    auditor those of the contracts they manage or audit."""
    if not user.is_site_admin and user.organisation_id is None:
        return []
    contracts = Contract.objects.for_user(user)
    provider_id = user.organisation_id if user.is_provider else None
    return [d for d in open_deadlines(today, contracts=contracts, provider_id=provider_id)
            if not d.submitted]


# --- the nightly task's three jobs --------------------------------------------------------------


def _recipients(provider_ids):
    people = {}
    for person in (User.objects.filter(organisation_id__in=provider_ids, is_active=True,
                                       role__in=(Role.PROVIDER_USER, Role.PROVIDER_MANAGER))
                   .exclude(email="").order_by("pk")):
        people.setdefault(person.organisation_id, []).append(person)
    return people


def _reminder_kind(deadline, today):
    if deadline.submitted:
        return None
    lead = settings.PBR_RETURN_REMINDER_DAYS
    if deadline.due_date - timedelta(days=lead) <= today <= deadline.due_date:
        return ReminderKind.DUE_SOON
    if today > deadline.due_date:
        return ReminderKind.OVERDUE
    return None


def _message(deadline, kind, today, person):
    path = (reverse("return_detail", kwargs={"return_pk": deadline.draft.pk}) if deadline.draft
            else reverse("return_start"))
    context = {"deadline": deadline, "kind": kind, "today": today, "person": person,
               "label": deadline.label(today), "url": settings.SITE_URL.rstrip("/") + path,
               "overdue": kind == ReminderKind.OVERDUE}
    subject = (f"{'Overdue' if kind == ReminderKind.OVERDUE else 'Reminder'}: "
               f"{deadline.contract.reference} {deadline.period_id} return "
               f"{deadline.label(today).lower()}")
    body = render_to_string("outcomes/email/return_reminder.txt", context)
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [person.email])


def send_reminders(today):
    """Email each provider's users once when a return falls due within the reminder lead time,
    and once after a missed deadline. Returns the number of reminders recorded.

    The ReturnReminder row and the emails are one transaction: if sending fails the row is
    rolled back and the next run tries again; once it is written no run sends it again.
    """
    pending = [(d, kind) for d in open_deadlines(today)
               if (kind := _reminder_kind(d, today)) is not None]
    if not pending:
        return 0
    sent_before = set(ReturnReminder.objects.filter(
        contract_id__in={d.contract.pk for d, _k in pending},
        provider_id__in={d.provider_id for d, _k in pending}).values_list(
        "contract_id", "provider_id", "period_id", "kind"))
    people = _recipients({d.provider_id for d, _k in pending})
    recorded = 0
    connection = get_connection()
    for deadline, kind in pending:
        key = (deadline.contract.pk, deadline.provider_id, deadline.period_id, kind)
        if key in sent_before:
            continue
        recipients = people.get(deadline.provider_id, [])
        try:
            with transaction.atomic():
                ReturnReminder.objects.create(
                    contract=deadline.contract, provider_id=deadline.provider_id,
                    period_id=deadline.period_id, kind=kind, due_date=deadline.due_date,
                    sent_on=today, recipients=len(recipients))
                if recipients:
                    connection.send_messages([_message(deadline, kind, today, person)
                                              for person in recipients])
        except IntegrityError:
            continue  # a concurrent run recorded (and sent) it first
        except Exception:
            # Nothing was recorded, so tomorrow's run tries again; one failure (a mail server
            # refusing an address) must not stop the other providers' reminders.
            log.exception("Reminder %s for %s could not be sent", kind, key)
            continue
        recorded += 1
    return recorded


def mark_late(today):
    """Flag first-version drafts whose due date has passed; submitting one later makes it
    'Submitted late' (outcomes.services.submit_return)."""
    marked = 0
    candidates = Return.objects.filter(status=ReturnStatus.DRAFT, supersedes__isnull=True,
                                       due_date__lt=today, marked_late_on__isnull=True)
    for pk in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            ret = (Return.objects.select_for_update().select_related("contract", "provider")
                   .filter(pk=pk, status=ReturnStatus.DRAFT, marked_late_on__isnull=True)
                   .first())
            if ret is None:
                continue  # submitted or marked since the list was read
            ret.marked_late_on = today
            ret.save(update_fields=["marked_late_on"])
            audit.record("return.marked_late", obj=ret, organisation=ret.provider,
                         before={"status": ret.status}, after={"marked_late_on": today.isoformat()},
                         reason=f"Not submitted by {ret.due_date.isoformat()}",
                         actor_label="system")
            marked += 1
    return marked


def lock_closed_periods(today):
    """Lock the submitted returns of every period whose claim window has closed, through
    outcomes.services.lock_period. Returns the number of returns locked."""
    window = timedelta(days=settings.PBR_CLAIM_WINDOW_DAYS)
    candidates = set(Return.objects.filter(
        status__in=(ReturnStatus.SUBMITTED, ReturnStatus.LATE), period_end__lt=today - window,
    ).values_list("contract_id", "period_id"))
    if not candidates:
        return 0
    definitions = _current_definitions({c for c, _p in candidates})
    contracts = Contract.objects.in_bulk({c for c, _p in candidates})
    locked = 0
    for contract_id, period_id in sorted(candidates):
        definition = definitions.get(contract_id)
        if definition is None:
            continue
        all_periods = contract_periods(definition)
        period = next((p for p in all_periods if p.id == period_id), None)
        if period is not None and today <= closes_on(period, all_periods, definition):
            continue  # the last period's window runs on for post-contract claims
        locked += services.lock_period(contracts[contract_id], period_id)
    return locked


def run_deadlines(today):
    """The nightly job: mark late drafts, send reminders, lock closed periods."""
    result = {"marked_late": mark_late(today), "reminders": send_reminders(today),
              "returns_locked": lock_closed_periods(today)}
    log.info("Return deadlines for %s: %s", today, result)
    return result


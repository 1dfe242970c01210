"""Deadlines: reminders, late marks and period locks, at the day boundary with an explicit clock.

C3 is monthly from June 2011. With the default settings the Jun 2013 return (1-30 June) is due
on 10 July 2013 (PBR_RETURN_DUE_DAYS=10), the "due soon" reminder goes on 5 July
(PBR_RETURN_REMINDER_DAYS=5), the "overdue" reminder and the late mark on 11 July, and the claim
window closes at the end of 29 August (PBR_CLAIM_WINDOW_DAYS=60): locked from 30 August.
"""

import datetime
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from outcomes import reminders
from outcomes.models import ReminderKind, Return, ReturnReminder, ReturnStatus
from outcomes.services import add_rows, start_return, submit_return
from outcomes.tasks import return_deadlines
from pbr.models import AuditEvent, Job, Role

from .conftest import row

LONDON = ZoneInfo("Europe/London")
pytestmark = pytest.mark.django_db


def at(*args):
    """A wall-clock moment in London (BST in summer: the UTC date differs near midnight)."""
    return time_machine.travel(datetime.datetime(*args, tzinfo=LONDON), tick=False)


def sent(period_id, kind):
    return ReturnReminder.objects.filter(period_id=period_id, kind=kind)


def jun_mails():
    return [m for m in mail.outbox if "Jun 2013" in m.subject]


def test_defaults_give_the_documented_dates(c3, settings):
    assert (settings.PBR_RETURN_DUE_DAYS, settings.PBR_RETURN_REMINDER_DAYS,
            settings.PBR_CLAIM_WINDOW_DAYS) == (10, 5, 60)
    deadline = next(d for d in reminders.open_deadlines(datetime.date(2013, 7, 1))
                    if d.period_id == "Jun 2013")
    assert deadline.due_date == datetime.date(2013, 7, 10)
    assert deadline.closes_on == datetime.date(2013, 8, 29)
    assert deadline.draft is None and not deadline.submitted


def test_due_soon_reminder_goes_on_the_day_not_the_day_before(c3, world_a):
    with at(2013, 7, 4, 23, 59, 59):
        return_deadlines()
    assert not sent("Jun 2013", ReminderKind.DUE_SOON).exists()
    assert jun_mails() == []
    with at(2013, 7, 5, 0, 0, 1):  # 23:00:01 UTC on the 4th: the London date is what counts
        return_deadlines()
    reminder = sent("Jun 2013", ReminderKind.DUE_SOON).get()
    assert reminder.sent_on == datetime.date(2013, 7, 5) and reminder.recipients == 2
    messages = jun_mails()
    assert sorted(m.to[0] for m in messages) == sorted(
        world_a.users[r].email for r in (Role.PROVIDER_USER, Role.PROVIDER_MANAGER))
    assert "due by 10 July 2013 (due in 5 days)" in messages[0].body
    assert "http://127.0.0.1:8000/returns/start/" in messages[0].body
    assert messages[0].subject == "Reminder: C3-WORK-PROGRAMME Jun 2013 return due in 5 days"


def test_a_rerun_sends_nothing_twice(c3):
    with at(2013, 7, 5, 6, 30):
        first = reminders.send_reminders(datetime.date(2013, 7, 5))
        count = len(mail.outbox)
        assert first >= 1 and count >= 2
        return_deadlines()
        return_deadlines()
    with at(2013, 7, 6, 6, 30):
        return_deadlines()  # still within the lead time: the due-soon reminder is not repeated
    assert len(jun_mails()) == 2
    assert sent("Jun 2013", ReminderKind.DUE_SOON).count() == 1


def test_overdue_reminder_the_day_after_the_deadline(c3, provider_user):
    with at(2013, 7, 10, 23, 59, 59):
        return_deadlines()
    assert not sent("Jun 2013", ReminderKind.OVERDUE).exists()
    with at(2013, 7, 11, 0, 0, 0):
        return_deadlines()
        return_deadlines()
    assert sent("Jun 2013", ReminderKind.OVERDUE).count() == 1
    overdue = [m for m in jun_mails() if m.subject.startswith("Overdue")]
    assert len(overdue) == 2
    assert "was due by 10 July 2013 and has not been submitted" in overdue[0].body
    assert "until 29 August 2013" in overdue[0].body


def test_a_submitted_return_gets_no_reminders(c3, provider_user):
    with at(2013, 7, 2, 12, 0):
        ret = start_return(c3, "Jun 2013", actor=provider_user)
        add_rows(ret, [(2, row())], actor=provider_user)
        submit_return(ret, actor=provider_user)
    for day in (5, 11):
        with at(2013, 7, day, 6, 30):
            return_deadlines()
    assert not sent("Jun 2013", ReminderKind.DUE_SOON).exists()
    assert not sent("Jun 2013", ReminderKind.OVERDUE).exists()
    assert jun_mails() == []


def test_a_started_draft_is_linked_in_the_reminder(c3, provider_user):
    with at(2013, 7, 1, 9, 0):
        ret = start_return(c3, "Jun 2013", actor=provider_user)
    with at(2013, 7, 5, 6, 30):
        return_deadlines()
    assert f"Continue the return: http://127.0.0.1:8000/returns/{ret.pk}/" in jun_mails()[0].body


def test_a_failed_send_records_nothing_and_is_retried(c3):
    with at(2013, 7, 5, 6, 30), mock.patch(
            "django.core.mail.backends.locmem.EmailBackend.send_messages",
            side_effect=ConnectionRefusedError("mail server down")):
        assert reminders.send_reminders(datetime.date(2013, 7, 5)) == 0
    assert not ReturnReminder.objects.exists()
    with at(2013, 7, 6, 6, 30):
        return_deadlines()
    assert sent("Jun 2013", ReminderKind.DUE_SOON).get().sent_on == datetime.date(2013, 7, 6)
    assert len(jun_mails()) == 2


def test_users_without_email_or_inactive_are_not_sent_to(c3, world_a):
    world_a.users[Role.PROVIDER_USER].is_active = False
    world_a.users[Role.PROVIDER_USER].save()
    with at(2013, 7, 5, 6, 30):
        return_deadlines()
    assert [m.to for m in jun_mails()] == [[world_a.users[Role.PROVIDER_MANAGER].email]]
    assert all(world_a.users[Role.COMMISSIONER].email not in m.to for m in mail.outbox)


def test_a_draft_is_marked_late_the_day_after_it_is_due(c3, provider_user):
    with at(2013, 7, 1, 9, 0):
        ret = start_return(c3, "Jun 2013", actor=provider_user)
        add_rows(ret, [(2, row())], actor=provider_user)
    with at(2013, 7, 10, 23, 59, 59):
        return_deadlines()
    ret.refresh_from_db()
    assert ret.marked_late_on is None
    with at(2013, 7, 11, 0, 0, 0):
        return_deadlines()
        return_deadlines()
    ret.refresh_from_db()
    assert ret.marked_late_on == datetime.date(2013, 7, 11) and ret.status == ReturnStatus.DRAFT
    assert AuditEvent.objects.filter(action="return.marked_late", object_id=str(ret.pk)).count() == 1
    with at(2013, 7, 12, 10, 0):
        submit_return(ret, actor=provider_user)
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.LATE


def test_an_amendment_draft_is_never_marked_late(c3, provider_user):
    from outcomes.services import amend_return

    with at(2013, 7, 1, 9, 0):
        ret = start_return(c3, "Jun 2013", actor=provider_user)
        add_rows(ret, [(2, row())], actor=provider_user)
        submit_return(ret, actor=provider_user)
        amendment = amend_return(ret, actor=provider_user, reason="Missed a row")
    with at(2013, 7, 20, 6, 30):
        assert reminders.mark_late(datetime.date(2013, 7, 20)) == 0
    amendment.refresh_from_db()
    assert amendment.marked_late_on is None


def test_periods_lock_the_day_after_the_claim_window_closes(c3, provider_user):
    with at(2013, 7, 8, 9, 0):
        ret = start_return(c3, "Jun 2013", actor=provider_user)
        add_rows(ret, [(2, row())], actor=provider_user)
        submit_return(ret, actor=provider_user)
    with at(2013, 8, 29, 23, 59, 59):
        return_deadlines()
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.SUBMITTED
    with at(2013, 8, 30, 0, 0, 0):
        result = return_deadlines()
        assert return_deadlines()["returns_locked"] == 0  # idempotent
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.LOCKED and result["returns_locked"] == 1
    event = AuditEvent.objects.get(action="return.locked", object_id=str(ret.pk))
    assert event.actor_label == "system"
    job = Job.objects.filter(name="Return deadlines").first()
    assert "1 return(s) locked" in job.message


def test_the_last_period_stays_open_for_post_contract_claims(c3, provider_user):
    # C3 ends 31 May 2016 and allows claims for 365 days after: May 2016's window closes
    # 60 + 365 days after the period ends.
    definition = c3.current_version().definition()
    from contracts.definition import periods

    all_periods = periods(definition)
    assert all_periods[-1].id == "May 2016"
    assert reminders.closes_on(all_periods[-1], all_periods, definition) == (
        datetime.date(2016, 5, 31) + datetime.timedelta(days=425))
    with at(2016, 6, 5, 9, 0):
        ret = start_return(c3, "May 2016", actor=provider_user)
        add_rows(ret, [(2, row())], actor=provider_user)
        submit_return(ret, actor=provider_user)
    with at(2016, 8, 1, 6, 30):  # 62 days after: an ordinary period would be locked by now
        return_deadlines()
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.SUBMITTED
    with at(2017, 8, 1, 6, 30):
        return_deadlines()
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.LOCKED


def test_due_days_are_a_setting(c3, provider_user, settings):
    settings.PBR_RETURN_DUE_DAYS = 20
    with at(2013, 7, 1, 9, 0):
        ret = start_return(c3, "Jun 2013", actor=provider_user)
    assert ret.due_date == datetime.date(2013, 7, 20)
    deadline = next(d for d in reminders.open_deadlines(datetime.date(2013, 7, 1))
                    if d.period_id == "Jul 2013")
    assert deadline.due_date == datetime.date(2013, 8, 20)


@pytest.mark.parametrize(("day", "label"), [
    (datetime.date(2013, 7, 5), "Due in 5 days"),
    (datetime.date(2013, 7, 9), "Due tomorrow"),
    (datetime.date(2013, 7, 10), "Due today"),
    (datetime.date(2013, 7, 11), "Overdue by 1 day"),
    (datetime.date(2013, 7, 13), "Overdue by 3 days"),
])
def test_due_labels(day, label):
    assert reminders.due_label(datetime.date(2013, 7, 10), day) == label
    assert reminders.due_label(datetime.date(2013, 7, 10), day, submitted=True) == ""


def test_provider_home_and_returns_list_show_due_and_overdue(client, c3, provider_user):
    client.force_login(provider_user)
    with at(2013, 7, 5, 12, 0):
        with_draft = start_return(c3, "Jun 2013", actor=provider_user)
        home = client.get("/provider/").content.decode()
        listing = client.get("/returns/").content.decode()
    for page in (home, listing):
        assert "Returns due" in page
        assert "Due in 5 days" in page  # Jun 2013, started
        assert "Overdue by 25 days" in page  # May 2013, never started
        assert f'href="/returns/{with_draft.pk}/"' in page
        assert "/returns/start/?contract=" in page and "period_id=May%202013" in page
    # The stored return's own row in the list has the label too.
    assert listing.count("Due in 5 days") == 2


def test_the_returns_due_table_leaves_out_submitted_and_closed_periods(client, c3,
                                                                        provider_user):
    with at(2013, 7, 5, 12, 0):
        ret = start_return(c3, "Jun 2013", actor=provider_user)
        add_rows(ret, [(2, row())], actor=provider_user)
        submit_return(ret, actor=provider_user)
        deadlines = reminders.deadlines_for(provider_user, datetime.date(2013, 7, 5))
    assert [d.period_id for d in deadlines] == ["May 2013", "Jul 2013"]


def test_commissioners_see_each_providers_overdue_returns(client, c3, world_a, world_b):
    client.force_login(world_a.users[Role.COMMISSIONER])
    with at(2013, 7, 5, 12, 0):
        page = client.get("/returns/").content.decode()
    assert "Overdue by 25 days" in page and world_a.provider.name in page
    client.force_login(world_b.users[Role.COMMISSIONER])
    with at(2013, 7, 5, 12, 0):
        other = client.get("/returns/").content.decode()
    assert "Returns due" not in other


def test_the_reminder_task_is_on_the_beat_schedule():
    from pbr.celery import app

    entry = app.conf.beat_schedule["return-deadlines"]
    assert entry["task"] == return_deadlines.name == "outcomes.tasks.return_deadlines"
    assert entry["schedule"].hour == {6}


def test_the_task_accepts_an_explicit_date(c3):
    result = return_deadlines("2013-07-05")
    assert result["reminders"] >= 1
    assert Return.objects.count() == 0

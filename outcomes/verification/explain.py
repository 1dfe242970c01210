"""Why a claim is where it is, in plain words for the provider (and everyone else)."""

from django.utils import timezone

from ..models import ClaimStatus as S
from .permissions import appeal_deadline
from .policy import get_policy


def _d(value):
    if value is None:
        return ""
    if hasattr(value, "hour"):
        value = timezone.localdate(value)
    return f"{value.day} {value:%B %Y}"


def _review(claim):
    from .models import ClaimReview

    try:
        return claim.review
    except ClaimReview.DoesNotExist:
        return None


def _reasons(review):
    return "; ".join(r["text"] for r in (review.reasons if review else [])) or "selected"


def _open_query(claim):
    # Uses prefetched queries when the caller loaded them (lists), else one query.
    found = [q for q in claim.queries.all() if q.responded_at is None]
    return max(found, key=lambda q: (q.raised_at, q.pk)) if found else None


def _latest_appeal(claim, **match):
    found = [a for a in claim.appeals.all()
             if all(getattr(a, k) == v for k, v in match.items())]
    return max(found, key=lambda a: (a.decided_at or a.lodged_at, a.pk)) if found else None


def explain(claim, today=None, has_policy=None):
    """One or two sentences: what state the claim is in, why, and what happens next.

    has_policy: whether the contract has a verification policy, when the caller knows (lists
    pass it to avoid a query per claim)."""
    today = today or timezone.localdate()
    review = _review(claim)
    status = claim.status
    if status == S.DRAFT:
        return "Not yet submitted: it is checked and considered for payment when the return is " \
               "submitted."
    if status == S.FAILED:
        failed = "; ".join(c["reason"] for c in claim.failed_checks()) or "see the checks"
        return (f"It did not pass the automatic checks: {failed} It will not be paid. Amend the "
                "return to correct it.")
    if status == S.HELD:
        return ("Held as a possible duplicate: the same person has been claimed elsewhere. It is "
                "not paid until the auditor or commissioner has looked at it.")
    if status == S.PASSED:
        if has_policy is None:
            has_policy = get_policy(claim.return_record.contract) is not None
        if not has_policy:
            return "It passed the automatic checks and will be paid in the next payment run."
        return ("It passed the automatic checks and is waiting for the auditor to draw the "
                "sample: it will then be accepted without review or selected for checking. It "
                "is not paid until then.")
    if status == S.ACCEPTED:
        drawn = _d(review.sample.drawn_at) if review and review.sample else ""
        return ("Accepted without review: it was not selected when the sample was drawn"
                + (f" on {drawn}" if drawn else "") + ", so it is paid in the next payment run. "
                "It may still be checked after payment.")
    due = f" by {_d(review.due_date)}" if review and review.due_date else ""
    if status == S.SAMPLED:
        return (f"Selected for verification ({_reasons(review)}). An auditor will check it "
                f"against its evidence{due}. It is not paid until it is verified.")
    if status == S.UNDER_REVIEW:
        return (f"An auditor is checking it against its evidence{due}. It is not paid until it "
                "is verified.")
    if status == S.QUERIED:
        query = _open_query(claim)
        when = f" on {_d(query.raised_at)}" if query else ""
        answer_by = f" Answer by {_d(query.due_date)}" if query else " Answer it"
        return (f"The auditor asked a question{when}.{answer_by}, with any new evidence; the "
                "claim is not paid until it is verified.")
    if status == S.RESPONDED:
        return ("You answered the auditor's question; the auditor will now verify or reject the "
                "claim.")
    if status == S.VERIFIED:
        appeal = _latest_appeal(claim, upheld=True)
        if appeal is not None:
            return (f"Verified on appeal on {_d(appeal.decided_at)}: {appeal.note} It is paid in "
                    "the next payment run.")
        when = f" on {_d(review.decided_at)}" if review and review.decided_at else ""
        return f"Verified{when}: it is paid in the next payment run."
    if status == S.REJECTED:
        return _rejected(claim, review, today)
    if status == S.APPEALED:
        appeal = _latest_appeal(claim)
        when = f" on {_d(appeal.lodged_at)}" if appeal else ""
        return (f"You appealed{when}. A commissioner who did not reject it will decide. It is "
                "not paid unless the appeal is upheld.")
    return claim.get_status_display()


def _rejected(claim, review, today):
    from .models import RejectionReason

    if review is None:
        return "Rejected. It will not be paid."
    why = RejectionReason(review.reason_code).label if review.reason_code else "no reason given"
    note = f" {review.note}" if review.note else ""
    text = f"Rejected on {_d(review.rejected_at)}: {why}.{note}"
    if review.after_payment:
        text += " It had been paid, so the next payment run recovers what was paid."
    else:
        text += " It will not be paid."
    appeal = _latest_appeal(claim, upheld=False)
    if appeal is not None:
        return text + f" Your appeal was dismissed on {_d(appeal.decided_at)}: {appeal.note}"
    deadline = appeal_deadline(claim, review)
    if deadline is not None and today <= deadline:
        return text + f" You can appeal until {_d(deadline)}."
    if deadline is not None:
        return text + f" The appeal window closed on {_d(deadline)}."
    return text

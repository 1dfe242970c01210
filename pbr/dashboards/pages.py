"""The dashboards' tables, built from stored snapshots (and a few small live reads: late
returns, open queries, deadlines). Each function takes what the view has already scoped."""

from collections import defaultdict
from decimal import Decimal

from django.urls import reverse

from contracts.definition import financial_year_of
from outcomes.models import ClaimStatus

from . import rules
from .tables import Column, Table

ZERO = Decimal("0.00")
RECENT_PERIODS = 12
STATUS_LABELS = dict(ClaimStatus.choices)
RAG_TAGS = {"red": "red", "amber": "yellow", "green": "green"}
RAG_WORDS = {"red": "Red", "amber": "Amber", "green": "Green"}


def D(value):
    return Decimal(value) if value not in (None, "") else None


def current_fy(today):
    return financial_year_of(today)


def _provider_name(summary, pid):
    return summary.get("providers", {}).get(str(pid), f"Organisation {pid}")


# --- commissioner: programme ------------------------------------------------------------------


def programme_tables(contracts, snapshots, late_counts, today):
    """contracts: the user's contracts; snapshots: {contract id: snapshot (summary loaded)}."""
    fy = current_fy(today)
    overview = Table("contracts", "Contracts: results, payments, liability and verification",
                     [Column("Contract"), Column("Provider"), Column(f"Results claimed {fy}", "int"),
                      Column("Paid to date", "money"), Column("Clawed back to date", "money"),
                      Column("Committed", "money"), Column("Maximum liability", "money"),
                      Column("Committed of maximum", "pct"),
                      Column("Claims awaiting verification", "int"),
                      Column("Late returns", "int"), Column("Figures as at")],
                     empty="You have no contracts yet. Import a contract definition to see its "
                           "figures here.")
    liability = Table("liability", "Committed against maximum liability by contract",
                      [Column("Contract"), Column("Committed", "money", chart="bar"),
                       Column("Maximum liability", "money", chart="bar")], chart="bar",
                      empty="No contract has published terms yet.")
    indicators = Table("indicators", "Indicators: latest figure against target",
                       [Column("Contract"), Column("Indicator"), Column("Measures"),
                        Column("Achieved", "num"), Column("Targets"), Column("Result")],
                       empty="None of your contracts is paid on indicators, or none has been "
                             "returned yet.")
    errors = Table("error_rates", "Verification error rate by provider",
                   [Column("Provider"), Column("Contract"), Column("Error rate", "pct"),
                    Column("Rating", "tag")],
                   empty="No claims have been checked by a verifier yet.")
    by_year = defaultdict(int)
    for contract in contracts:
        snap = snapshots.get(contract.pk)
        url = reverse("dashboard_contract", kwargs={"contract_pk": contract.pk})
        if snap is None:
            overview.add(contract.reference, "", None, None, None, None, None, None, None,
                         late_counts.get(contract.pk, 0), "Not worked out yet", href={0: url})
            continue
        s = snap.summary
        for year, counts in sorted(s["claims"]["by_year"].items()):
            by_year[year] += sum(counts.values())
        lia = s["liability"]
        committed, maximum = D(lia["committed"]), D(lia["maximum"])
        share = (committed * 100 / maximum) if maximum else None
        prime = s.get("prime_provider_id")
        overview.add(
            contract.reference, _provider_name(s, prime) if prime else "",
            sum(s["claims"]["by_year"].get(fy, {}).values()),
            D(s["ledger"]["paid"]), D(s["ledger"]["clawed_back"]), committed, maximum, share,
            sum(s["claims"]["awaiting"].values()), late_counts.get(contract.pk, 0),
            f"{snap.computed_at:%d %b %Y %H:%M}", href={0: url})
        if lia["published"]:
            liability.add(contract.reference, committed, maximum)
        for rate_row in s["errors"]["rows"]:
            if rate_row["rate"] is None:
                continue
            errors.add(_provider_name(s, rate_row["provider_id"]), contract.reference,
                       D(rate_row["rate"]), RAG_WORDS[rate_row["rating"]],
                       tags={3: RAG_TAGS[rate_row["rating"]]})
    for contract in contracts:
        snap = snapshots.get(contract.pk)
        for ind in (snap.summary.get("indicators_latest", []) if snap else []):
            if not ind["values"]:
                continue
            last = ind["values"][-1]
            indicators.add(contract.reference, ind["name"], last["measure"],
                           D(last["value"]), _targets_text(ind), last["result"])
    results = Table("results_by_year", "Results claimed by financial year, all contracts",
                    [Column("Financial year"), Column("Results claimed", "int", chart="bar")],
                    chart="bar", empty="No claims have been submitted yet.")
    for year in sorted(by_year):
        results.add(year, by_year[year])
    return [overview, liability, results, indicators, errors]


def _targets_text(ind):
    return "; ".join(f"{label} {Decimal(v).normalize():f}{ind['unit'] if ind['unit'] == '%' else ''}"
                     for label, v in ind["targets"]) or "No target in the terms"


def late_returns_table(returns, today):
    table = Table("late_returns", "Late returns",
                  [Column("Contract"), Column("Provider"), Column("Period"), Column("Due"),
                   Column("Marked late on"), Column("Status")],
                  empty="No returns are late.")
    for ret in returns:
        table.add(ret.contract.reference, ret.provider.name, ret.period_id,
                  f"{ret.due_date:%d %b %Y}",
                  f"{ret.marked_late_on:%d %b %Y}" if ret.marked_late_on else "",
                  ret.get_status_display() if ret.status != "draft"
                  else "Not submitted yet")
    return table


# --- commissioner: one contract ----------------------------------------------------------------


def contract_tables(contract, snap, show_all):
    s, d = snap.summary, snap.detail
    names = s.get("outcome_names", {})
    periods = d.get("periods", [])
    order = s.get("outcome_order", [])
    outcomes = order + sorted({o for p in periods for o in p["counts"]} - set(order))
    tables = []
    by_period = Table("results_by_period", "Results claimed by period and outcome",
                      [Column("Period")] + [Column(names.get(o, o), "int", chart="bar")
                                            for o in outcomes],
                      chart="bar", stacked=True, empty="No claims have been submitted yet.")
    for p in periods:
        by_period.add(p["period"], *[p["counts"].get(o, 0) for o in outcomes])
    tables.append(_recent(by_period, show_all))
    by_year = Table("results_by_year", "Results claimed by financial year and outcome",
                    [Column("Financial year")] + [Column(names.get(o, o), "int") for o in outcomes],
                    empty="No claims have been submitted yet.")
    for year, counts in sorted(s["claims"]["by_year"].items()):
        by_year.add(year, *[counts.get(o, 0) for o in outcomes])
    tables.append(by_year)
    for ind in d.get("indicators", []):
        table = Table(f"indicator-{ind['code']}"[:60], f"{ind['name']}: achieved against target",
                      [Column("Measures"), Column("Achieved", "num", chart="line")]
                      + [Column(label, "num", chart="line") for label, _v in ind["targets"]]
                      + [Column("Result")], chart="line",
                      empty="Not returned yet: figures appear once the provider's indicator "
                            "return is submitted.",
                      note=("Lower is better. " if ind["lower_is_better"] else "")
                      + ("" if ind["targets"] else "The terms set no target for this indicator."))
        for v in ind["values"]:
            table.add(v["measure"], D(v["value"]), *[D(t) for _l, t in ind["targets"]],
                      v["result"])
        tables.append(table)
    pay = Table("payments_by_period", "Payments and clawbacks by period",
                [Column("Period"), Column("Paid", "money", chart="bar"),
                 Column("Clawed back", "money", chart="bar"), Column("Net", "money"),
                 Column("Run")], chart="bar", empty="No payment run has posted anything yet.")
    for row in d.get("ledger", []):
        paid, clawed = D(row["paid"]), D(row["clawed_back"])
        pay.add(row["period"], paid, clawed, paid - clawed,
                "Approved" if row["approved"] else "Awaiting approval")
    tables.append(_recent(pay, show_all))
    tables.append(liability_table(s["liability"], s.get("forecast")))
    tables.append(status_table(s, None))
    tables.append(error_table(s))
    return tables


def _recent(table, show_all):
    if not show_all and len(table.rows) > RECENT_PERIODS:
        table.hidden_rows = len(table.rows) - RECENT_PERIODS
    return table


def liability_table(lia, forecast):
    expected = {y["financial_year"]: D(y["expected"]) for y in (forecast or {}).get("years", [])}
    table = Table("liability_by_year", "Committed against maximum liability by financial year",
                  [Column("Financial year"), Column("Approved", "money"),
                   Column("Awaiting approval", "money"), Column("Committed", "money", chart="bar"),
                   Column("Expected further (forecast)", "money"),
                   Column("Maximum", "money", chart="bar"), Column("Maximum less committed", "money")],
                  chart="bar",
                  empty="This contract has no published terms yet: nothing can be committed.")
    for y in lia["years"]:
        table.add(y["financial_year"], D(y["approved"]), D(y["awaiting_approval"]),
                  D(y["committed"]), expected.get(y["financial_year"]) if forecast else None,
                  D(y["maximum"]), D(y["headroom"]))
    return table


def status_table(summary, provider_id):
    """Claims by status, for every provider on the contract or one."""
    counts = defaultdict(int)
    for pid, statuses in summary["claims"]["by_provider_status"].items():
        if provider_id is None or str(pid) == str(provider_id):
            for status, n in statuses.items():
                counts[status] += n
    table = Table("claims_by_status", "Claims by status",
                  [Column("Status"), Column("Claims", "int", chart="bar")], chart="bar",
                  empty="No claims have been submitted yet.")
    for status in ClaimStatus.values:
        if counts.get(status):
            table.add(STATUS_LABELS[status], counts[status])
    return table


def error_table(summary):
    errs = summary["errors"]
    table = Table("error_rates", "Verification error rate by provider",
                  [Column("Provider"), Column("Error rate", "pct"), Column("Rating", "tag")],
                  empty="No claims have been checked by a verifier yet, so every provider is "
                        "amber.")
    for row in errs["rows"]:
        table.add(_provider_name(summary, row["provider_id"]), D(row["rate"]),
                  RAG_WORDS[row["rating"]], tags={2: RAG_TAGS[row["rating"]]})
    return table


# --- equity ---------------------------------------------------------------------------------


def _segment_rates(groups, key):
    pooled = {}
    for g in groups:
        k = key(g)
        row = pooled.setdefault(k, [0, 0, 0, ZERO])
        row[0] += g["participants"]
        row[1] += g["active"]
        row[2] += g["with_outcome"]
        row[3] += D(g["paid"])
    return pooled


def equity_tables(summaries, contract_refs=None):
    """summaries: {contract id: snapshot summary}. One contract: its segments, providers and
    referral flow. Several: segments pooled by code, providers, and every flag by contract."""
    seg_names = {}
    for s in summaries.values():
        seg_names.update(s["equity"]["segment_names"])
    flags_table = Table("equity_flags", "Flags",
                        [Column("Contract"), Column("Provider"), Column("Segment"),
                         Column("Flag", "tag"), Column("Why")],
                        empty="Nothing is flagged: no segment's activity or outcome rate is much "
                              "lower than the others', and referral flow is even.")
    segments = Table("segments", "Outcomes, activity and payments by segment",
                     [Column("Segment"), Column("Participants", "int"), Column("Active", "int"),
                      Column("Activity rate", "pct", chart="bar"), Column("With an outcome", "int"),
                      Column("Outcome rate", "pct", chart="bar"), Column("Paid", "money"),
                      Column("Paid per participant", "money"), Column("Flag", "tag")],
                     chart="bar", empty="No participants have been enrolled yet.")
    providers = Table("providers", "Outcomes, activity and payments by provider",
                      [Column("Provider"), Column("Participants", "int"),
                       Column("Activity rate", "pct", chart="bar"),
                       Column("Outcome rate", "pct", chart="bar"), Column("Paid", "money")],
                      chart="bar", empty="No participants have been enrolled yet.")
    referrals = Table("referrals", "Referrals to subcontractors by segment",
                      [Column("Contract"), Column("Referred to"), Column("Segment"),
                       Column("Participants", "int"), Column("Share of the segment", "pct"),
                       Column("Share of all referrals", "pct"), Column("Flag", "tag")],
                      empty="No contract here has a supply chain.")
    unattributed = ZERO
    all_groups = []
    for cid, s in summaries.items():
        eq = s["equity"]
        ref = (contract_refs or {}).get(cid, "")
        unattributed += D(eq["unattributed_paid"])
        all_groups += eq["groups"]
        # Parking is judged within each provider's caseload on each contract.
        by_provider = defaultdict(list)
        for g in eq["groups"]:
            by_provider[g["provider_id"]].append(
                rules.SegmentRates(g["segment"], g["participants"], g["active"], g["with_outcome"]))
        for pid, rows in by_provider.items():
            for seg, flag in sorted(rules.parking_flags(rows).items()):
                if flag.level:
                    flags_table.add(ref, _provider_name(s, pid), seg_names.get(seg, seg) or "None",
                                    flag.label, "; ".join(flag.reasons),
                                    tags={3: "red" if flag.level == "red" else "yellow"})
        if eq["subcontractors"]:
            counts = {(sub, seg): n for sub, seg, n in eq["flow"]}
            for f in rules.referral_flags(counts, eq["delivery_shares"]):
                who = eq["subcontractors"].get(f.subcontractor, f.subcontractor) \
                    if f.subcontractor else "Kept by the prime provider"
                seg = (seg_names.get(f.segment, f.segment) or "None") if f.segment else \
                    "All (against its contracted delivery share)"
                referrals.add(ref, who, seg, counts.get((f.subcontractor, f.segment)) if f.segment
                              else sum(n for (sb, _g), n in counts.items() if sb == f.subcontractor),
                              f.share, f.expected, f.label,
                              tags={6: "red" if f.unequal else "grey"})
                if f.unequal:
                    flags_table.add(ref, who, seg, "Unequal referral flow",
                                    f"{f.share}% of this segment against {f.expected}% "
                                    + ("contracted" if not f.segment else "of all referrals"),
                                    tags={3: "red"})
    pooled = _segment_rates(all_groups, lambda g: g["segment"])
    rows = [rules.SegmentRates(seg, v[0], v[1], v[2]) for seg, v in pooled.items()]
    pooled_flags = rules.parking_flags(rows)
    for r in sorted(rows, key=lambda r: r.segment):
        paid = pooled[r.segment][3]
        flag = pooled_flags[r.segment]
        segments.add(seg_names.get(r.segment, r.segment) or "None", r.participants, r.active,
                     r.activity_rate, r.with_outcome, r.outcome_rate, paid,
                     (paid / r.participants).quantize(Decimal("0.01")) if r.participants else None,
                     flag.label, tags={8: {"red": "red", "amber": "yellow"}.get(flag.level, "grey")})
    provider_names = {}
    for s in summaries.values():
        provider_names.update(s.get("providers", {}))
    for pid, v in sorted(_segment_rates(all_groups, lambda g: g["provider_id"]).items(),
                         key=lambda kv: provider_names.get(kv[0], kv[0])):
        providers.add(provider_names.get(pid, pid), v[0], rules.rate(v[1], v[0]),
                      rules.rate(v[2], v[0]), v[3])
    return [flags_table, segments, providers, referrals], unattributed


# --- provider -------------------------------------------------------------------------------


def provider_tables(org_id, contracts, snapshots):
    """org_id None: a site admin, every provider's figures."""
    statuses = Table("claims_by_status", "Your claims by status",
                     [Column("Status"), Column("Claims", "int", chart="bar")], chart="bar",
                     empty="You have not submitted any claims yet. Start a return to claim "
                           "outcomes.")
    income = Table("income", "Income to date and forecast by contract",
                   [Column("Contract"), Column("Paid to date (approved)", "money"),
                    Column("Awaiting approval", "money"), Column("Forecast still to come", "money"),
                    Column("Of which claims in verification", "money"),
                    Column("Forecast as at")],
                   empty="You are not the prime provider on any contract yet.")
    years = Table("forecast_by_year", "Forecast income by financial year",
                  [Column("Financial year"), Column("Expected", "money", chart="bar"),
                   Column("Of which claims in verification", "money", chart="bar")], chart="bar",
                  empty="No forecast has been worked out yet.")
    counts, by_year = defaultdict(int), defaultdict(lambda: [ZERO, ZERO])
    for contract in contracts:
        snap = snapshots.get(contract.pk)
        if snap is None:
            continue
        s = snap.summary
        for pid, st in s["claims"]["by_provider_status"].items():
            if org_id is None or str(pid) == str(org_id):
                for status, n in st.items():
                    counts[status] += n
        prime = s.get("prime_provider_id")
        if org_id is not None and str(prime) != str(org_id):
            continue
        forecast = s.get("forecast")
        if forecast is None:
            income.add(contract.reference, D(s["ledger"]["paid"]) - D(s["ledger"]["clawed_back"]),
                       D(s["ledger"]["awaiting_paid"]) - D(s["ledger"]["awaiting_clawed_back"]),
                       None, None, "Not worked out yet")
            continue
        income.add(contract.reference, D(forecast["ledger_approved"]),
                   D(forecast["ledger_awaiting"]), D(forecast["total"]),
                   D(forecast["from_pipeline"]),
                   f"{snap.forecast_computed_at:%d %b %Y %H:%M}" if snap.forecast_computed_at
                   else "")
        for y in forecast["years"]:
            by_year[y["financial_year"]][0] += D(y["expected"])
            by_year[y["financial_year"]][1] += D(y["from_pipeline"])
    for status in ClaimStatus.values:
        if counts.get(status):
            statuses.add(STATUS_LABELS[status], counts[status])
    for year in sorted(by_year):
        years.add(year, *by_year[year])
    return [statuses, income, years]


def queries_table(queries, today):
    table = Table("queries", "Queries awaiting your answer",
                  [Column("Contract"), Column("Claim"), Column("Question"), Column("Raised"),
                   Column("Answer by"), Column("Status")],
                  empty="No queries are waiting for an answer.")
    for q in queries:
        claim = q.claim
        overdue = q.due_date < today
        table.add(claim.return_record.contract.reference,
                  f"{claim.outcome} for {claim.participant.provider_reference}", q.text,
                  f"{q.raised_at:%d %b %Y}", f"{q.due_date:%d %b %Y}",
                  "Overdue" if overdue else "Open",
                  href={1: reverse("verification_claim", kwargs={"claim_pk": claim.pk})})
    return table


def deadlines_table(deadlines, today):
    table = Table("deadlines", "Returns due",
                  [Column("Contract"), Column("Period"), Column("Due"), Column("Claims close"),
                   Column("Status")],
                  empty="No returns are due: every open period's return has been submitted.")
    for d in deadlines:
        table.add(d.contract.reference, d.period_id, f"{d.due_date:%d %b %Y}",
                  f"{d.closes_on:%d %b %Y}", d.label(today),
                  tags={4: "red" if d.is_overdue(today) else ""})
    return table

"""Designer pages: start a contract, build its terms section by section, publish.

Adding or removing an item (an outcome, a rule, a band, a tariff row) posts the form with
``action=add:<list path>`` or ``action=remove:<item path>``. With htmx only the affected list is
re-rendered and swapped in; without JavaScript the same POST re-renders the whole page. Neither
saves: "Save" does, through services.save_draft and the importer's validator.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from pbr.models import Organisation, OrganisationKind
from pbr.views import require

from .. import permissions
from ..definition.model import RULES_BY_TYPE
from ..models import Contract, PartyRole
from ..services import ContractError, publish_terms
from . import forms
from .services import KEEP, create_draft, draft_version, problems_in, save_draft

PRIME_ORGANISATION = "_prime_organisation"
COMMISSIONER = "_commissioner"
EXTRA_LABELS = {PRIME_ORGANISATION: "Prime provider's organisation",
                COMMISSIONER: "Commissioning body"}


def section_url_name(slug):
    return f"designer_{slug}"


def _contract(request, contract_pk):
    contract = get_object_or_404(Contract.objects.for_user(request.user)
                                 .select_related("commissioner"), pk=contract_pk)
    require(permissions.can_edit_terms(request.user, contract))
    return contract


def _organisation(request, name, kind):
    value = request.POST.get(name, "")
    if not value.isdigit():
        return None
    return Organisation.objects.filter(pk=int(value), kind=kind, is_active=True).first()


def _options(kind):
    return [("", "Choose…")] + [
        (str(pk), name) for pk, name in Organisation.objects.filter(kind=kind, is_active=True)
        .order_by("name").values_list("pk", "name")]


def _extra_node(name, value, errors, readonly):
    kind = OrganisationKind.PROVIDER if name == PRIME_ORGANISATION \
        else OrganisationKind.COMMISSIONING_BODY
    hint = ("Returns, claims and statements for this contract belong to this organisation. The "
            "contract cannot be published until it is chosen." if name == PRIME_ORGANISATION
            else "The commissioning body that will manage the contract.")
    return forms.Node("select", name, label=EXTRA_LABELS[name], hint=hint,
                      value=str(value or ""), options=_options(kind),
                      errors=list(errors.get(name, ())), readonly=readonly)


def _with_extras(nodes, extras):
    """Put the organisation choices straight after the prime provider's fieldset."""
    out = []
    for node in nodes:
        out.append(node)
        if node.path == "prime_provider":
            out.extend(extras)
    return out


def _problem_rows(problems, doc, *, current, contract=None, paths=None):
    """Problems as error-summary rows whose links point at the input, on whichever page it is;
    and the messages to show beside each input of the current page."""
    paths = paths if paths is not None else forms.all_paths(doc)
    rows, by_anchor = [], {}
    for problem in problems:
        if problem.path in EXTRA_LABELS:
            slug, anchor = "details", problem.path
        elif problem.code == "party-unlinked":
            slug, anchor = "details", PRIME_ORGANISATION
        else:
            slug = forms.section_of_path(problem.path)
            target = forms.error_target(problem.path, problem.message, problem.code)
            anchor = forms.anchor_for(target, paths.get(slug, set()))
        fragment = f"#{forms.dom_id(anchor)}" if anchor else ""
        if contract is None or slug == current:
            href = fragment or "#main-content"
        else:
            href = reverse(section_url_name(slug), args=[contract.pk]) + fragment
        rows.append({"where": EXTRA_LABELS.get(problem.path) or forms.describe_path(problem.path),
                     "path": problem.path, "message": problem.message, "code": problem.code,
                     "href": href, "section": slug})
        by_anchor.setdefault(anchor, []).append(problem.message)
    return rows, by_anchor


def _sections(contract, doc, rows, current=""):
    counts = {}
    for row in rows:
        counts[row["section"]] = counts.get(row["section"], 0) + 1
    out = []
    for section in forms.SECTIONS:
        items = None
        if section.slug not in ("details", "calendar"):
            value = doc.get(section.fields[0]) if isinstance(doc, dict) else None
            items = len(value) if isinstance(value, list) else 0
        out.append({"section": section, "problems": counts.get(section.slug, 0), "items": items,
                    "url": reverse(section_url_name(section.slug), args=[contract.pk]),
                    "current": section.slug == current})
    return out


def _prime_link(contract):
    return next((p.organisation_id for p in contract.parties.all() if p.role == PartyRole.PRIME),
                None)


def _render_section(request, contract, version, slug, doc, *, problems, unsaved=False,
                    focus="", prime=KEEP):
    readonly = version is None
    rows, by_anchor = _problem_rows(problems, doc, current=slug, contract=contract)
    nodes = forms.Builder(doc, errors=by_anchor, focus=focus, readonly=readonly).section(slug)
    if slug == "details":
        chosen = _prime_link(contract) if prime is KEEP else getattr(prime, "pk", "")
        nodes = _with_extras(nodes, [_extra_node(PRIME_ORGANISATION, chosen, by_anchor,
                                                 readonly)])
    slugs = [s.slug for s in forms.SECTIONS]
    index = slugs.index(slug)
    return render(request, "contracts/designer/section.html", {
        "contract": contract, "version": version, "section": forms.SECTIONS_BY_SLUG[slug],
        "nodes": nodes, "problems": rows, "unsaved": unsaved, "readonly": readonly,
        "form_url": request.path, "sections": _sections(contract, doc, rows, slug),
        "is_last": index == len(slugs) - 1,
        "rule_types": forms.RULE_TYPE_CHOICES,
    })


def _change(request, doc, nodes, op, target):
    """Apply an add/remove to the submitted document. Returns (document, list path, focus path)
    or None when the target is not a list (or item) on this form."""
    node = forms.find(nodes, target)
    if op == "add" and node is not None and node.kind == "list":
        item = {}
        if node.add_choices:
            rule_type = request.POST.get("new_rule_type", "")
            if rule_type not in RULES_BY_TYPE:
                return None
            item = {"type": rule_type}
        changed = forms.add_item(doc, target, item)
        count = len(node.children) + 1
        return changed, target, forms.join(target, count - 1)
    if op == "remove" and node is not None and node.kind == "item":
        return forms.remove_item(doc, target), forms.parent_path(target), ""
    return None


def _swap(request, nodes, list_path):
    """The htmx answer to add/remove: the re-rendered list, and an out-of-band notice that the
    change is not saved yet (it replaces the error summary, whose links may no longer fit)."""
    return render(request, "contracts/designer/_list_swap.html", {
        "node": forms.find(nodes, list_path), "form_url": request.path, "readonly": False,
        "rule_types": forms.RULE_TYPE_CHOICES,
    })


@login_required
@require_http_methods(["GET", "POST"])
def designer_new(request):
    require(permissions.can_design_contracts(request.user))
    user = request.user
    is_admin = user.is_site_admin
    if request.method == "GET":
        doc = {"calendar": {}}
        if user.organisation is not None and not is_admin:
            doc["funders"] = [{"name": user.organisation.name, "share_pct": "100"}]
        return _render_new(request, doc, problems=[])
    doc = forms.Binder(request.POST).new_contract()
    prime = _organisation(request, PRIME_ORGANISATION, OrganisationKind.PROVIDER)
    commissioner = _organisation(request, COMMISSIONER, OrganisationKind.COMMISSIONING_BODY)
    op, _, target = request.POST.get("action", "save").partition(":")
    if op in ("add", "remove"):
        nodes = forms.Builder(doc).new_contract()
        change = _change(request, doc, nodes, op, target)
        if change is None:
            return HttpResponseBadRequest("That is not a list on this form.")
        doc, list_path, focus = change
        if request.htmx:
            return _swap(request, forms.Builder(doc, focus=focus).new_contract(), list_path)
        return _render_new(request, doc, problems=[], unsaved=True, focus=focus, prime=prime,
                           commissioner=commissioner)
    try:
        contract = create_draft(doc, actor=user, prime_organisation=prime,
                                commissioner=commissioner)
    except ContractError as exc:
        return _render_new(request, doc, problems=exc.problems, prime=prime,
                           commissioner=commissioner)
    messages.success(request, f"{contract.reference} is saved as a draft. Add its segments, "
                              "outcomes, indicators and payment rules, then publish it.")
    return redirect("designer_overview", contract.pk)


def _render_new(request, doc, *, problems, unsaved=False, focus="", prime=None,
                commissioner=None):
    builder_nodes = forms.Builder(doc).new_contract()
    paths = {"details": {n.path for node in builder_nodes for n in node.walk()}}
    paths["calendar"] = paths["details"]
    rows, by_anchor = _problem_rows(problems, doc, current="details", paths=paths)
    nodes = forms.Builder(doc, errors=by_anchor, focus=focus).new_contract()
    extras = [_extra_node(PRIME_ORGANISATION, getattr(prime, "pk", ""), by_anchor, False)]
    if request.user.is_site_admin:
        extras.append(_extra_node(COMMISSIONER, getattr(commissioner, "pk", ""), by_anchor,
                                  False))
    return render(request, "contracts/designer/new.html", {
        "nodes": _with_extras(nodes, extras), "problems": rows, "unsaved": unsaved,
        "form_url": request.path, "readonly": False,
    })


@login_required
def designer_overview(request, contract_pk):
    contract = _contract(request, contract_pk)
    return _render_overview(request, contract)


def _render_overview(request, contract, publish_problems=None):
    version = draft_version(contract)
    shown = version or contract.current_version()
    doc = shown.document
    problems = publish_problems if publish_problems is not None else (
        problems_in(doc) if version else [])
    rows, _by_anchor = _problem_rows(problems, doc, current="", contract=contract)
    return render(request, "contracts/designer/overview.html", {
        "contract": contract, "version": version, "shown": shown, "problems": rows,
        "refused": publish_problems is not None,
        "sections": _sections(contract, doc, rows),
        "can_publish": version is not None
        and permissions.can_publish_terms(request.user, version).allowed,
    })


@login_required
@require_http_methods(["GET", "POST"])
def designer_section(request, contract_pk, section):
    contract = _contract(request, contract_pk)
    version = draft_version(contract)
    if request.method == "GET" or version is None:
        if request.method == "POST":
            messages.error(request, "These terms are published and can no longer be edited. "
                                    "Vary the contract to change them.")
            return redirect(section_url_name(section), contract.pk)
        shown = version or contract.current_version()
        return _render_section(request, contract, version, section, shown.document,
                               problems=problems_in(shown.document) if version else [])
    binder = forms.Binder(request.POST)
    doc = forms.merge_section(version.document, section, binder.section(section))
    op, _, target = request.POST.get("action", "save").partition(":")
    if op in ("add", "remove"):
        change = _change(request, doc, forms.Builder(doc).section(section), op, target)
        if change is None:
            return HttpResponseBadRequest("That is not a list on this form.")
        doc, list_path, focus = change
        if request.htmx:
            return _swap(request, forms.Builder(doc, focus=focus).section(section), list_path)
        return _render_section(request, contract, version, section, doc, problems=[],
                               unsaved=True, focus=focus,
                               prime=_posted_prime(request, section))
    prime = _posted_prime(request, section)
    try:
        version, problems = save_draft(contract, doc, actor=request.user,
                                       prime_organisation=prime)
    except ContractError as exc:
        return _render_section(request, contract, version, section, doc, problems=exc.problems,
                               prime=prime)
    if problems:
        messages.info(request, f"Saved as a draft. {len(problems)} problem"
                               f"{'' if len(problems) == 1 else 's'} to fix before it can be "
                               "published.")
    else:
        messages.success(request, "Saved. The terms have no problems.")
    if op == "save_continue":
        slugs = [s.slug for s in forms.SECTIONS]
        index = slugs.index(section)
        if index + 1 < len(slugs):
            return redirect(section_url_name(slugs[index + 1]), contract.pk)
        return redirect("designer_overview", contract.pk)
    return redirect(section_url_name(section), contract.pk)


def _posted_prime(request, section):
    if section != "details" or PRIME_ORGANISATION not in request.POST:
        return KEEP
    return _organisation(request, PRIME_ORGANISATION, OrganisationKind.PROVIDER)


@login_required
@require_POST
def designer_publish(request, contract_pk):
    contract = _contract(request, contract_pk)
    version = draft_version(contract)
    if version is None:
        messages.error(request, "These terms are already published.")
        return redirect("contract_detail", contract.pk)
    require(permissions.can_publish_terms(request.user, version))
    try:
        publish_terms(version, actor=request.user)
    except ContractError as exc:
        return _render_overview(request, contract, publish_problems=exc.problems)
    messages.success(request, f"Version {version.number} of {contract.reference} is published. It "
                              "can no longer be edited; change it by variation.")
    return redirect("contract_detail", contract.pk)

"""Triage: the queue of reports from stores, one report with its actions, CSV export, photos."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required
from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.core.roles import Capability
from tideover.frontline import services
from tideover.frontline.forms import AnswerForm, LinkForm, SearchForm
from tideover.frontline.models import Report
from tideover.incidents.models import Incident

PAGE_SIZE = 50


def _filtered(request, **fixed):
    """(form, matching reports); None for the reports when a filter is wrong: a mistyped
    filter must not quietly match every store's reports."""
    form = SearchForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return form, None
    filters = {k: v for k, v in (form.cleaned_data if form.is_bound else {}).items() if v}
    return form, services.search(**filters, **fixed)


def _filter_errors(form) -> str:
    return "; ".join(
        f"{form.fields[name].label if name in form.fields else 'Filter'}: {' '.join(errors)}"
        for name, errors in form.errors.items()
    )


@capability_required(Capability.TRIAGE_REPORTS)
def queue(request, incident=None):
    form, reports = _filtered(request, **({"incident_id": incident.pk} if incident else {}))
    status = 200
    if reports is None:
        reports, status = Report.objects.none(), 400
    page = Paginator(reports, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "frontline/queue.html",
        {"form": form, "page": page, "query": query.urlencode(), "incident": incident},
        status=status,
    )


@capability_required(Capability.TRIAGE_REPORTS)
def incident_reports(request, incident_id: int):
    return queue(request, incident=get_object_or_404(Incident, pk=incident_id))


@capability_required(Capability.TRIAGE_REPORTS)
def export(request):
    form, reports = _filtered(request)
    if reports is None:
        return HttpResponse(
            f"Nothing exported; fix the filter: {_filter_errors(form)}",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(services.export_csv(reports), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="reports-{stamp}.csv"'
    return response


def _report(report_id: int) -> Report:
    return get_object_or_404(Report.objects.select_related("store", "incident"), pk=report_id)


def render_detail(request, report: Report, status: int = 200, **forms):
    context = {
        "report": report,
        "link_form": LinkForm(initial={"incident": report.incident_id}),
        "answer_form": AnswerForm(initial={"answer": report.answer}),
    }
    context.update(forms)
    return render(request, "frontline/detail.html", context, status=status)


@capability_required(Capability.TRIAGE_REPORTS)
def detail(request, report_id: int):
    return render_detail(request, _report(report_id))


@capability_required(Capability.TRIAGE_REPORTS)
def photo(request, report_id: int):
    report = _report(report_id)
    if not report.photo:
        raise Http404("This report has no photo")
    try:
        stored = report.photo.open("rb")
    except OSError:  # gone from disk (a restore without the uploads folder)
        raise Http404("The photo of this report is no longer on the server") from None
    response = FileResponse(stored, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="report-{report.pk}-photo"'
    return response


def _act(request, report, form_name, form, action, done):
    if not form.is_valid():
        return render_detail(request, report, status=400, **{form_name: form})
    try:
        action(form.cleaned_data)
    except DomainError as exc:
        form.add_error(None, exc.message)
        return render_detail(request, report, status=exc.status_code, **{form_name: form})
    messages.success(request, done)
    return redirect("frontline:detail", report_id=report.pk)


@capability_required(Capability.TRIAGE_REPORTS)
@require_POST
def link(request, report_id: int):
    report = _report(report_id)
    form = LinkForm(request.POST)
    return _act(
        request,
        report,
        "link_form",
        form,
        lambda d: services.link_to_incident(report, d["incident"], actor=Actor.of(request.user)),
        "Link saved.",
    )


@capability_required(Capability.TRIAGE_REPORTS)
@require_POST
def answer(request, report_id: int):
    report = _report(report_id)
    form = AnswerForm(request.POST)
    return _act(
        request,
        report,
        "answer_form",
        form,
        lambda d: services.answer(report, d["answer"], actor=Actor.of(request.user)),
        "Answer sent: the store sees it on its page.",
    )


@capability_required(Capability.TRIAGE_REPORTS)
@require_POST
def acted_on(request, report_id: int):
    report = _report(report_id)
    services.mark_acted_on(report, actor=Actor.of(request.user))
    messages.success(request, "Marked as acted on.")
    return redirect("frontline:detail", report_id=report.pk)

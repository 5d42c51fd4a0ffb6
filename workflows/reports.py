"""The annual report's content: a year of a signed contract's follow-up, read from the rows.

One builder for every reader: the API's JSON, the contract page, and the PDF that the
committee's decision keeps (drawn by ``workflows.documents.annual_reports()``). It sits low in
the domain (beside ``documents``) because the flow step that concludes the committee's vote
generates the PDF; the selectors re-export it for the pages and the API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from .models import (
    Action,
    ActionStatus,
    AnnualReview,
    AnnualReviewStatus,
    CommitteeVote,
    Task,
    TaskKind,
    TaskStatus,
)


def number_text(value: Decimal) -> str:
    """A value as the report writes it: "2.5", not "2.5000"."""
    return format(value.normalize(), "f")


def parse_number(text: str) -> float | None:
    """A baseline or target as the sheet gives it ("12", "12,5 %", "1 250"), when it is a
    number; None for words ("en hausse")."""
    cleaned = (
        str(text or "")
        .replace("\u00a0", "")
        .replace("\u202f", "")
        .replace(" ", "")
        .replace("%", "")
        .replace(",", ".")
    )
    try:
        return float(cleaned)
    except ValueError:
        return None


def report_tasks(review: AnnualReview) -> list[Task]:
    """The review's report tasks, one per action still running at its launch."""
    return list(
        Task.objects.filter(
            contract_id=review.contract_id, kind=TaskKind.REPORT, data__year=review.year
        )
        .select_related("action", "owner", "completed_by", "on_behalf_of")
        .order_by("pk")
    )


def _when(moment) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None


def _counts(vote: CommitteeVote) -> dict[str, int]:
    """A round's counts: as recorded once decided, as cast so far before."""
    if vote.outcome:
        return {
            "approvals": vote.approvals,
            "rejections": vote.rejections,
            "abstentions": vote.abstentions,
        }
    return vote.tally()._asdict()


def annual_report_data(review: AnnualReview) -> dict[str, Any]:
    """The year's report as JSON-ready data: the review, the vote, and per action its
    status, what its pilot reported and each indicator's baseline, target and values by year
    (up to the review's year)."""
    contract = review.contract
    reports = {task.action_id: task for task in report_tasks(review)}
    actions = (
        Action.objects.filter(contract=contract)
        .select_related("pilot", "theme")
        .prefetch_related("indicators", "indicator_values")
        .order_by("theme__position", "position", "pk")
    )
    vote = review.votes.order_by("-round").first()
    rows = []
    for action in actions:
        values: dict[str, list[dict[str, Any]]] = {}
        for value in sorted(action.indicator_values.all(), key=lambda v: v.year):
            if value.year <= review.year:
                values.setdefault(value.indicator, []).append(
                    {"year": value.year, "value": number_text(value.value)}
                )
        indicators = [
            {
                "name": indicator.label,
                "unit": indicator.unit,
                "baseline": indicator.baseline,
                "target": indicator.target,
                "values": values.pop(indicator.label, []),
            }
            for indicator in sorted(action.indicators.all(), key=lambda i: i.position)
        ]
        indicators += [
            {"name": name, "unit": "", "baseline": "", "target": "", "values": rest}
            for name, rest in values.items()
        ]
        task = reports.get(action.pk)
        reported = task is not None and task.status == TaskStatus.DONE
        rows.append(
            {
                "code": action.code,
                "title": action.title,
                "pilot": action.pilot.display_name,
                "status": action.status,
                "status_label": str(ActionStatus(action.status).label),
                "report": (
                    None
                    if task is None
                    else {
                        "status": "submitted" if reported else task.status.lower(),
                        "progress": task.data.get("progress", "") if reported else "",
                        "comment": task.comment if reported else "",
                        "submitted_by": (
                            task.completed_by.username if reported and task.completed_by else ""
                        ),
                        "submitted_at": _when(task.finished) if reported else None,
                    }
                ),
                "indicators": indicators,
            }
        )
    return {
        "contract": {
            "id": contract.pk,
            "reference": contract.reference,
            "title": contract.title,
            "period_start": contract.period_start.isoformat(),
            "period_end": contract.period_end.isoformat(),
        },
        "year": review.year,
        "status": review.status,
        "status_label": str(AnnualReviewStatus(review.status).label),
        "draft": not review.is_decided,
        "launched_at": _when(review.opened_at),
        "launched_by": review.opened_by.username,
        "collection_closed_at": _when(review.collection_closed_at),
        "decided_at": _when(review.decided_at),
        "report_sha256": review.report_sha256,
        "reports": {
            "expected": len(reports),
            "submitted": sum(task.status == TaskStatus.DONE for task in reports.values()),
        },
        "vote": (
            None
            if vote is None
            else {
                "round": vote.round,
                "outcome": vote.outcome,
                **_counts(vote),
                "quorum": vote.quorum,
                "members": vote.members,
                "closed_by_chair": vote.closed_by_id is not None,
            }
        ),
        "actions": rows,
    }


def committee_minutes_data(vote: CommitteeVote) -> dict[str, Any]:
    """The minutes (procès-verbal) of a decided round as JSON-ready data: what was voted on,
    the committee (chair, members called, quorum), each member's vote with its comment and
    objections (or that the member did not vote), the counts and the outcome. Drawn up by
    ``workflows.documents.committee_minutes()`` when the round is decided."""
    contract = vote.contract
    committee = contract.steering_committee
    if vote.amendment_id:
        assert vote.amendment is not None
        subject = {"kind": "amendment", "number": vote.amendment.number}
    elif vote.annual_review_id:
        assert vote.annual_review is not None
        subject = {"kind": "annual_report", "year": vote.annual_review.year}
    else:
        subject = {"kind": "contract", "version": vote.contract_version}
    tasks = vote.tasks.select_related(
        "assignee", "assignee__organisation", "completed_by"
    ).order_by("assignee__last_name", "assignee__first_name", "pk")
    votes = []
    for task in tasks:
        member = task.assignee
        assert member is not None  # a vote task is a member's
        done = task.status == TaskStatus.DONE
        votes.append(
            {
                "member": member.display_name,
                "organisation": member.organisation.name if member.organisation else "",
                "decision": task.decision if done else "",
                "comment": task.comment if done else "",
                "objections": task.data.get("objections", {}) if done else {},
                "cast_at": _when(task.finished) if done else None,
                "cast_by": (
                    task.completed_by.display_name
                    if done and task.completed_by and task.completed_by_id != member.pk
                    else ""
                ),
            }
        )
    return {
        "contract": {
            "id": contract.pk,
            "reference": contract.reference,
            "title": contract.title,
        },
        "subject": subject,
        "round": vote.round,
        "opened_at": _when(vote.opened_at),
        "decided_at": _when(vote.decided_at),
        "chair": committee.chair.display_name,
        "closed_by_chair": vote.closed_by_id is not None,
        "members": vote.members,
        "quorum": vote.quorum,
        "outcome": vote.outcome,
        **_counts(vote),
        "votes": votes,
    }

"""The minutes (procès-verbal) of a committee's vote, as PDF signed by the chair.

The domain hands over the decided round's data (``workflows.reports.committee_minutes_data``)
through its port (``workflows.documents.committee_minutes``, ``settings.ACCORD_COMMITTEE_MINUTES``
names ``PdfCommitteeMinutes``) and keeps the bytes: the decision's history entry names them by
SHA-256. The minutes say what was voted on, when, the committee (chair, members called, quorum),
each member's vote with its comment and objections, the counts and the outcome; the chair's
PAdES signature (their certificate from Accord's authority) closes them, as a party signs the
contract document.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from workflows.history import Preparations
from workflows.models import CommitteeVote, TaskDecision, User

from . import keys
from .document import LANGUAGE, _with_fields
from .reports import TEXT_BLUE, _moment, _Report
from .services import _wrapped, sign_pdf, signed_outside

CHAIR_FIELD = "accord-chair"
SIGNATURE_WIDTH, SIGNATURE_HEIGHT = 90.0, 24.0  # mm
# How the minutes word each member's vote ("Mme X : vote pour, le ...").
VOTE_WORDS = {
    TaskDecision.APPROVE: pgettext_lazy("minutes", "votes for"),
    TaskDecision.REJECT: pgettext_lazy("minutes", "votes against"),
    TaskDecision.ABSTAIN: pgettext_lazy("minutes", "abstains"),
}


def _subject(data: dict) -> str:
    subject = data["subject"]
    if subject["kind"] == "amendment":
        return _("Vote on amendment no. %(number)d") % subject
    if subject["kind"] == "annual_report":
        return _("Vote on the annual report %(year)d") % subject
    return _("Vote on the contract, version %(version)d") % subject


def _outcome(data: dict) -> str:
    validated = data["outcome"] == CommitteeVote.Outcome.VALIDATED
    return (
        _("Validated: %(approvals)d for, %(rejections)d against.")
        if validated
        else _("Rejected: %(approvals)d for, %(rejections)d against.")
    ) % data


def render_committee_minutes(data: dict, *, when: datetime.datetime) -> bytes:
    """The minutes as PDF with an empty signature field for the chair."""
    with translation.override(LANGUAGE):
        contract = data["contract"]
        title = _("Minutes of the steering committee, round %(round)d") % data
        pdf = _Report(f"{title} — {contract['reference']}", when=when)
        pdf.set_title(pdf.printable(f"{title} — {contract['reference']}"))
        pdf.set_subject(pdf.printable(contract["title"]))
        pdf.add_page()
        pdf.say(title, size=18, style="B", color=TEXT_BLUE)
        pdf.say(f"{contract['reference']} — {contract['title']}", size=12, style="B")
        pdf.say(_subject(data), size=11)
        pdf.ln(2)
        pdf.say(
            _("Vote opened on %(opened)s, decided on %(decided)s.")
            % {"opened": _moment(data["opened_at"]), "decided": _moment(data["decided_at"])}
        )
        pdf.say(_("Chair: %(chair)s") % data)
        voted = [vote for vote in data["votes"] if vote["decision"]]
        pdf.say(
            _(
                "Members called to vote: %(members)d; members who voted: %(voted)d; "
                "quorum: %(quorum)d."
            )
            % {"members": data["members"], "voted": len(voted), "quorum": data["quorum"]}
        )
        if data["closed_by_chair"]:
            pdf.say(_("The chair closed the vote before every member had voted."))
        pdf.ln(3)
        pdf.say(_("Votes"), size=14, style="B", color=TEXT_BLUE)
        for vote in data["votes"]:
            pdf.ln(1)
            member = vote["member"]
            if vote["organisation"]:
                member = f"{member} ({vote['organisation']})"
            if vote["decision"]:
                decision = str(VOTE_WORDS[vote["decision"]])
                line = _("%(member)s: %(decision)s, on %(date)s") % {
                    "member": member,
                    "decision": decision,
                    "date": _moment(vote["cast_at"]),
                }
            else:
                line = _("%(member)s: did not vote") % {"member": member}
            pdf.say(line, style="B")
            if vote["cast_by"]:
                pdf.say(_("Cast by %(person)s for the member.") % {"person": vote["cast_by"]})
            if vote["comment"]:
                pdf.say(_("Comment: %(comment)s") % vote, style="I")
            for code, text in sorted(vote["objections"].items()):
                pdf.say(
                    _("Objection to action %(code)s: %(text)s") % {"code": code, "text": text},
                    size=9.5,
                )
        pdf.ln(3)
        pdf.say(_("Outcome"), size=14, style="B", color=TEXT_BLUE)
        pdf.say(_outcome(data), style="B")
        pdf.say(
            _(
                "%(approvals)d approval(s), %(rejections)d rejection(s), %(abstentions)d "
                "abstention(s): %(cast)d vote(s) cast for a quorum of %(quorum)d. An abstention "
                "counts toward the quorum, not in the majority."
            )
            % {
                **data,
                "cast": data["approvals"] + data["rejections"] + data["abstentions"],
            }
        )
        pdf.ln(4)
        if pdf.get_y() > pdf.h - pdf.b_margin - SIGNATURE_HEIGHT - 10:
            pdf.add_page()
        pdf.say(_("The chair of the steering committee"), size=9.5)
        x, y = pdf.l_margin, pdf.get_y() + 1
        box = pdf.box(CHAIR_FIELD, x, y, SIGNATURE_WIDTH, SIGNATURE_HEIGHT)
        return _with_fields(bytes(pdf.output()), [box])


def minutes_sign(pdf: bytes, data: dict, *, chair: User, when: datetime.datetime) -> bytes:
    """The chair's PAdES signature on the minutes, with their own certificate, dated
    ``when`` (the round's decision)."""
    with translation.override(LANGUAGE):
        stamp = [
            _("Signed by %(chair)s, chair of the steering committee, on %(date)s")
            % {
                "chair": chair.formal_name,
                "date": date_format(timezone.localtime(when), "DATETIME_FORMAT"),
            }
        ]
        reason = _("Minutes of round %(round)d of the committee's vote on %(reference)s") % {
            "round": data["round"],
            "reference": data["contract"]["reference"],
        }
        return sign_pdf(
            pdf,
            field_name=CHAIR_FIELD,
            stored_key=keys.person_key(chair),
            name=chair.display_name,
            reason=reason,
            stamp=_wrapped(stamp, width=48),
        )


def _as_printed(value: Any, key: str = "") -> Any:
    """``value`` with each moment (``…_at``) as the minutes print it."""
    if isinstance(value, dict):
        return {k: _as_printed(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_printed(v) for v in value]
    if key.endswith("_at") and isinstance(value, str):
        with translation.override(LANGUAGE):
            return _moment(value)
    return value


class PdfCommitteeMinutes:
    """The domain's ``workflows.documents.CommitteeMinutes``."""

    def draw_up(self, data: dict, *, chair: User, preparations: Preparations) -> bytes:
        """With an outside authority, drawn up before the vote's transaction, and used only
        while the minutes say the same (the round decided at the same moment,
        ``preparations.now``; the last vote cast, a moment later, at the same minute)."""
        when = preparations.now
        return signed_outside(
            "minutes",
            [_as_printed(data), chair.pk, when],
            lambda: minutes_sign(
                render_committee_minutes(data, when=when), data, chair=chair, when=when
            ),
            preparations=preparations,
        )

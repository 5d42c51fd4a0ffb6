"""Writing an amendment (avenant) to a signed contract: open it, write its proposals while it
is a draft (sheets added, modified or removed, signatories added, the period extended, its
reason), or withdraw it.

Each verb is one unit of work on the contract's locked row (as every change of a contract):
who acts (a coordinator, 403), where things stand (the contract ``signed``, the amendment a
``draft``: 409), the change checked by the contract file's rules on the contract as the
amendment would leave it (``workflows.amending.amended_file``; refused, 400, for the problems
the change brings, each at its place, as a draft's change: ``checking.problems_brought``),
written, and recorded in the contract's history. The signed contract's rows are never
written here: the proposals are the amendment's own rows until its circuit (the next step)
consolidates them into the version in force.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .. import transitions
from ..amending import (
    amended_file,
    amendment_document_data,
    amendment_summary,
    open_amendment,
    sheet_of,
)
from ..contract_file import Path, Problem, contract_file_of
from ..documents import decide_outside
from ..errors import Conflict, NotAllowed
from ..flows import AmendmentFlow
from ..history import Preparations, UnitOfWork
from ..models import (
    Amendment,
    AmendmentChange,
    AmendmentChangeKind,
    AmendmentParty,
    AmendmentPartyVisa,
    AmendmentSignatory,
    AmendmentStatus,
    ChangeReview,
    Contract,
    ContractStatus,
    HistoryEvent,
    Organisation,
    Process,
    Signatory,
    Task,
    TaskStatus,
    User,
    content_sha256,
    is_coordinator,
    organisation_visa_holders,
)
from .checking import problems_brought, refused
from .contracts import hold_tasks, release_tasks
from .sheets import SHEET_CHANGED_MEANWHILE, current_version
from .voting import close_committee_vote, require_chair

# Stable messages, so that tests and API clients can rely on them.
NOT_A_COORDINATOR = gettext_noop("Only a coordinator of the contract may amend it.")
NOT_SIGNED = gettext_noop("Only a signed contract can be amended; this one is “%(state)s”.")
ONE_AT_A_TIME = gettext_noop(
    "Amendment no. %(number)d is open: finish or withdraw it before opening another."
)
NOT_A_DRAFT = gettext_noop(
    "The amendment can be changed only while it is a draft; it is “%(state)s”."
)


def _require(contract: Contract, actor: User) -> None:
    if not is_coordinator(contract, actor):
        raise NotAllowed(_(NOT_A_COORDINATOR))
    if contract.status != ContractStatus.SIGNED:
        raise Conflict(
            _(NOT_SIGNED) % {"state": contract.get_status_display()}, {"state": contract.status}
        )


def _in_revision(amendment: Amendment, code: str | None) -> bool:
    """A proposal sent back for revision by a lead of its working group, while the amendment
    is under review: its coordinators rewrite it before resubmitting it."""
    return (
        code is not None
        and amendment.status == AmendmentStatus.REVIEW
        and amendment.changes.filter(
            code=code, review_status=ChangeReview.CHANGES_REQUESTED
        ).exists()
    )


@contextmanager
def _locked(
    amendment: Amendment,
    actor: User,
    *,
    require: Callable[[Contract, User], None] = _require,
    preparations: Preparations | None = None,
) -> Iterator[tuple[UnitOfWork, Amendment]]:
    """The unit of work of a verb on an amendment: the contract locked, the amendment read
    again under the lock, who acts checked (a coordinator, unless ``require`` says who);
    ``preparations``, the unit's (``decide_outside``), else a fresh one."""
    with (
        transaction.atomic(),
        UnitOfWork.lock(amendment.contract_id, preparations=preparations) as unit,
    ):
        amendment = Amendment.objects.select_for_update().get(pk=amendment.pk)
        amendment.contract = unit.contract
        require(unit.contract, actor)
        yield unit, amendment


@contextmanager
def _writing(
    amendment: Amendment, actor: User, *, revising: str | None = None
) -> Iterator[tuple[UnitOfWork, Amendment]]:
    """The unit of work of a change to a draft amendment (or to its proposal ``revising``
    sent back for revision), its state checked."""
    with _locked(amendment, actor) as (unit, amendment):
        if amendment.status != AmendmentStatus.DRAFT and not _in_revision(amendment, revising):
            raise Conflict(
                _(NOT_A_DRAFT) % {"state": amendment.get_status_display()},
                {"state": amendment.status},
            )
        yield unit, amendment


def _record(
    unit: UnitOfWork,
    amendment: Amendment,
    actor: User,
    change: str,
    *,
    action: Any = None,
    **data: Any,
) -> None:
    unit.record(
        event=HistoryEvent.AMENDMENT_CHANGED,
        actor=actor,
        action=action,
        name=change,
        data={"amendment": amendment.number, "change": change, **data},
    )


# --- Opening, editing, withdrawing ------------------------------------------------------------


def amendment_open(*, contract: Contract, actor: User, summary: str = "") -> Amendment:
    """Open amendment n + 1 on a signed contract (one at a time), naming the signed
    document it amends by its SHA-256."""
    with transaction.atomic(), UnitOfWork.lock(contract.pk) as unit:
        contract = unit.contract
        _require(contract, actor)
        current = open_amendment(contract)
        if current is not None:
            raise Conflict(
                _(ONE_AT_A_TIME) % {"number": current.number}, {"number": current.number}
            )
        last = contract.amendments.aggregate(last=Max("number"))["last"] or 0
        try:
            with transaction.atomic():
                amendment = Amendment.objects.create(
                    contract=contract,
                    number=last + 1,
                    summary=(summary or "").strip(),
                    amended_document_sha256=contract.document_sha256,
                    opened_by=actor,
                )
        except IntegrityError as exc:  # the database's own "one open at a time"
            raise Conflict(_(ONE_AT_A_TIME) % {"number": last + 1}) from exc
        unit.record(
            event=HistoryEvent.AMENDMENT_OPENED,
            actor=actor,
            to_state=amendment.status,
            data={
                "amendment": amendment.number,
                "amended_document_sha256": amendment.amended_document_sha256,
            },
        )
    return amendment


def _period_end(value: Any) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise refused([Problem(("period_end",), _("not a date (YYYY-MM-DD)"))]) from None


def amendment_edit(*, amendment: Amendment, actor: User, changes: dict[str, Any]) -> Amendment:
    """Write the amendment's own parts: ``period_end`` (the period extended: after the
    contract's current end; empty: unchanged) and ``summary`` (its reason)."""
    with _writing(amendment, actor) as (unit, amendment):
        problems = [
            Problem((key,), _("not a part of an amendment that can be written here"))
            for key in changes
            if key not in ("period_end", "summary")
        ]
        if problems:
            raise refused(problems)
        written = []
        if "period_end" in changes:
            end = _period_end(changes["period_end"])
            current = unit.contract.period_end
            if end is not None and end <= current:
                raise refused(
                    [
                        Problem(
                            ("period_end",),
                            _("an amendment extends the period: after %(end)s")
                            % {"end": current.isoformat()},
                        )
                    ]
                )
            amendment.period_end = end
            written.append("period_end")
        if "summary" in changes:
            amendment.summary = str(changes["summary"] or "").strip()
            written.append("summary")
        amendment.save(update_fields=written or None)
        _record(
            unit,
            amendment,
            actor,
            "edited",
            parts=written,
            period_end=amendment.period_end.isoformat() if amendment.period_end else None,
        )
    return amendment


def amendment_withdraw(*, amendment: Amendment, actor: User, reason: str) -> Amendment:
    """Give the amendment up (a reason is required): the contract stays as signed."""
    with _writing(amendment, actor) as (unit, amendment):
        transitions.amendment_withdraw(unit, amendment, actor=actor, reason=reason)
    return amendment


def amendment_suspend(*, amendment: Amendment, actor: User, reason: str) -> Amendment:
    """Pause the amendment's circuit (a coordinator, a reason): its open tasks are held, not
    cancelled, as a suspended contract's."""
    with _locked(amendment, actor) as (unit, amendment):
        transitions.amendment_suspend(unit, amendment, actor=actor, reason=reason)
        hold_tasks(unit, amendment.tasks.all(), actor=actor)
    return amendment


def amendment_resume(*, amendment: Amendment, actor: User, comment: str = "") -> Amendment:
    """Resume the amendment's circuit where it was: held tasks reopen, due later by the time
    spent suspended."""
    with _locked(amendment, actor) as (unit, amendment):
        transitions.amendment_resume(unit, amendment, actor=actor, comment=comment)
        release_tasks(unit, amendment.tasks.all(), actor=actor)
    return amendment


# --- Sheets -------------------------------------------------------------------------------


def _relative(problems: list[Problem], place: Path | None) -> list[Problem]:
    """The problems of the proposed sheet at their places in the sheet (``pilot``), as a
    sheet's form and the API name them; the others where they are in the contract."""
    if place is None:
        return problems
    return [
        Problem(problem.path[len(place) :], problem.message)
        if tuple(problem.path[: len(place)]) == place
        else problem
        for problem in problems
    ]


def _check_sheet(
    amendment: Amendment, before: dict[str, Any], change: AmendmentChange
) -> list[Problem]:
    """The problems the proposal ``change`` brings to the contract as amended so far."""
    others = [c for c in amendment.changes.all() if c.code != change.code]
    baseline = amended_file(amendment, before=before, changes=others)
    after = amended_file(amendment, before=before, changes=[*others, change])
    place = after.places.get(("action", change.code))
    written = [place] if place is not None else []
    problems = problems_brought(baseline.document, after.document, amendment.contract, written)
    return _relative(problems, place)


def _sheet(sheet: Any) -> dict[str, Any]:
    if not isinstance(sheet, dict):
        raise refused([Problem((), _("a sheet is an object with the action's fields"))])
    return copy.deepcopy(sheet)


def amendment_action_add(
    *, amendment: Amendment, actor: User, theme: str, sheet: dict[str, Any]
) -> AmendmentChange:
    """Propose a new action sheet in theme ``theme``, written as a contract file writes a
    sheet (the schema's ``action``)."""
    with _writing(amendment, actor) as (unit, amendment):
        sheet = _sheet(sheet)
        before = contract_file_of(unit.contract)
        if not any(entry["code"] == theme for entry in before["themes"]):
            raise refused([Problem(("theme",), _('unknown theme "%(code)s"') % {"code": theme})])
        code = sheet.get("code")
        if isinstance(code, str) and (
            unit.contract.actions.filter(code=code).exists()
            or amendment.changes.filter(code=code).exists()
        ):
            raise refused(
                [Problem(("code",), _('action "%(code)s" exists already') % {"code": code})]
            )
        change = AmendmentChange(
            amendment=amendment,
            kind=AmendmentChangeKind.ADDED,
            code=code if isinstance(code, str) else "",
            theme_code=theme,
            content=sheet,
            version=1,
            author=actor,
        )
        problems = _check_sheet(amendment, before, change)
        if problems:
            raise refused(problems)
        change.save()
        _record(
            unit,
            amendment,
            actor,
            AmendmentChangeKind.ADDED,
            code=change.code,
            version=change.version,
            sha256=content_sha256(change.content),
        )
    return change


def amendment_action_change(
    *,
    amendment: Amendment,
    actor: User,
    code: str,
    base_version: int,
    sheet: dict[str, Any],
) -> AmendmentChange:
    """Propose sheet ``code`` as ``sheet`` (in full, in the contract file's words), on top of
    version ``base_version``, the one the writer started from: the signed sheet's current
    version for a first change, else the proposal's; a newer one meanwhile is a conflict.
    While the amendment is under review, only a proposal sent back for revision is written."""
    with _writing(amendment, actor, revising=code) as (unit, amendment):
        sheet = _sheet(sheet)
        change = amendment.changes.filter(code=code).first()
        action = unit.contract.actions.filter(code=code).first()
        if change is not None and change.kind == AmendmentChangeKind.REMOVED:
            raise Conflict(
                _("The amendment removes the sheet %(code)s: it cannot also change it.")
                % {"code": code}
            )
        if change is None and action is None:
            raise refused([Problem(("code",), _('unknown action "%(code)s"') % {"code": code})])
        author: User | None
        if change is not None:
            current, author = change.version, change.author
        else:
            assert action is not None
            signed = current_version(action)
            current, author = signed.number, signed.author
        if base_version != current:
            raise Conflict(
                _(SHEET_CHANGED_MEANWHILE)
                % {
                    "person": author.display_name if author else _("the import"),
                    "version": current,
                },
                {"version": current},
            )
        if sheet.get("code", code) != code:
            raise refused([Problem(("code",), _("a sheet's code does not change"))])
        sheet["code"] = code
        before = contract_file_of(unit.contract)
        if change is None:
            assert action is not None
            located = sheet_of(before, code)
            change = AmendmentChange(
                amendment=amendment,
                kind=AmendmentChangeKind.MODIFIED,
                code=code,
                theme_code=located[0] if located else action.theme.code,
                base_version=current,
                version=current + 1,
                author=actor,
            )
        else:
            change.version = current + 1
            change.author = actor
            change.updated_at = timezone.now()
        change.content = sheet
        problems = _check_sheet(amendment, before, change)
        if problems:
            raise refused(problems)
        change.save()
        _record(
            unit,
            amendment,
            actor,
            change.kind,
            action=action,
            code=code,
            version=change.version,
            base_version=change.base_version,
            sha256=content_sha256(change.content),
        )
    return change


def amendment_action_remove(*, amendment: Amendment, actor: User, code: str) -> None:
    """Propose to remove sheet ``code`` from the contract; a sheet the amendment itself
    added is simply no longer proposed."""
    with _writing(amendment, actor) as (unit, amendment):
        change = amendment.changes.filter(code=code).first()
        action = unit.contract.actions.filter(code=code).first()
        if change is not None and change.kind == AmendmentChangeKind.ADDED:
            change.delete()
            _record(unit, amendment, actor, "added_discarded", code=code)
            return
        if action is None:
            raise refused([Problem(("code",), _('unknown action "%(code)s"') % {"code": code})])
        if change is not None and change.kind == AmendmentChangeKind.REMOVED:
            return  # removed already: nothing more to do
        change = change or AmendmentChange(
            amendment=amendment,
            code=code,
            theme_code=action.theme.code,
            base_version=current_version(action).number,
            author=actor,
        )
        change.kind, change.content, change.author = AmendmentChangeKind.REMOVED, {}, actor
        change.updated_at = timezone.now()
        before = contract_file_of(unit.contract)
        problems = _check_sheet(amendment, before, change)
        if problems:
            raise refused(problems)
        change.save()
        _record(
            unit,
            amendment,
            actor,
            AmendmentChangeKind.REMOVED,
            action=action,
            code=code,
            base_version=change.base_version,
        )


def amendment_change_discard(*, amendment: Amendment, actor: User, code: str) -> None:
    """Take back what the amendment proposed for sheet ``code``: the sheet stays as signed
    (or, added by the amendment, is no longer proposed)."""
    with _writing(amendment, actor) as (unit, amendment):
        change = amendment.changes.filter(code=code).first()
        if change is None:
            return
        change.delete()
        _record(unit, amendment, actor, "discarded", code=code, kind=change.kind)


# --- Signatories ----------------------------------------------------------------------------


def amendment_signatory_add(
    *, amendment: Amendment, actor: User, entry: dict[str, Any]
) -> AmendmentSignatory:
    """Propose a new signatory, written as a contract file writes one (``organisation``,
    ``kind``, ``signer``, ``represented_by``, ``order``, ``mandate``); its organisation and
    people must be known to Accord."""
    with _writing(amendment, actor) as (unit, amendment):
        if not isinstance(entry, dict):
            raise refused([Problem((), _("a signatory is an object"))])
        entry = copy.deepcopy(entry)
        entry.setdefault("order", 1)
        before = contract_file_of(unit.contract)
        others = list(
            amendment.added_signatories.select_related("organisation", "signer", "represented_by")
        )
        baseline = amended_file(amendment, before=before, signatories=others)
        after = amended_file(amendment, before=before, signatories=[*others, entry])
        place = after.places.get(("signatory", str(entry.get("organisation"))))
        problems = problems_brought(
            baseline.document, after.document, unit.contract, [place] if place else []
        )
        problems = _relative(problems, place)
        if problems:
            raise refused(problems)
        mandate = entry.get("mandate") or {}
        people = {
            user.username: user
            for user in User.objects.filter(
                username__in=[entry["signer"], entry.get("represented_by") or ""]
            )
        }
        signatory = AmendmentSignatory.objects.create(
            amendment=amendment,
            organisation=Organisation.objects.get(code=entry["organisation"]),
            kind=entry["kind"],
            signer=people[entry["signer"]],
            represented_by=people.get(entry.get("represented_by") or ""),
            order=entry["order"],
            mandate_reference=mandate.get("reference") or "",
            mandate_date=datetime.date.fromisoformat(mandate["date"])
            if mandate.get("date")
            else None,
            author=actor,
        )
        _record(
            unit,
            amendment,
            actor,
            "signatory_added",
            organisation=signatory.organisation.code,
            kind=signatory.kind,
        )
    return signatory


def amendment_signatory_remove(*, amendment: Amendment, actor: User, organisation: str) -> None:
    """Take back a signatory the amendment proposed to add."""
    with _writing(amendment, actor) as (unit, amendment):
        deleted, _rows = amendment.added_signatories.filter(
            organisation__code=organisation
        ).delete()
        if deleted:
            _record(unit, amendment, actor, "signatory_removed", organisation=organisation)


# --- The circuit ----------------------------------------------------------------------------


def amendment_launch_review(*, amendment: Amendment, actor: User) -> Amendment:
    """Launch the amendment's circuit (a coordinator; at least one change, 409 otherwise):
    the sheets it adds or modifies go to their working groups' leads, then the committee."""
    with _locked(amendment, actor) as (unit, amendment):
        transitions.amendment_launch_review(unit, amendment, actor=actor)
        AmendmentFlow.start.run(amendment=amendment, unit=unit)
    amendment.refresh_from_db()
    return amendment


def amendment_close_vote(*, amendment: Amendment, actor: User) -> Amendment:
    """The chair ends the committee's vote on the amendment once the quorum is reached, as
    for the contract's vote (``contracts.close_vote``): the minutes' signature prepared
    before the vote's transaction."""
    return decide_outside(
        lambda preparations: _amendment_close_vote(
            amendment=amendment, actor=actor, preparations=preparations
        )
    )


def _amendment_close_vote(
    *, amendment: Amendment, actor: User, preparations: Preparations
) -> Amendment:
    locked = _locked(amendment, actor, require=require_chair, preparations=preparations)
    with locked as (unit, amendment):
        if amendment.status != AmendmentStatus.COMMITTEE:
            raise Conflict(
                _(transitions.AMENDMENT_TRANSITION_NOT_ALLOWED)
                % {"transition": _("Close the vote"), "state": amendment.get_status_display()},
                {"transition": "close_vote", "state": amendment.status},
            )
        process = Process.objects.get(
            contract=unit.contract,
            flow_class=AmendmentFlow,
            data__amendment=amendment.pk,
            finished__isnull=True,
        )
        close_committee_vote(unit, process=process, votes_in=AmendmentFlow.votes_in, actor=actor)
    amendment.refresh_from_db()
    return amendment


def _freeze_parties(amendment: Amendment) -> tuple[dict[str, Any], list[AmendmentParty]]:
    """The amendment's document data and its concerned parties, frozen for this version:
    every mandatory signatory, the associated ones a change touches, the ones it adds."""
    summary = amendment_summary(amendment)
    data = amendment_document_data(summary)
    concerned = {s.organisation for s in summary.signatories if s.concerned}
    parties = []
    for row in amendment.contract.signatories.select_related(
        "organisation", "signer", "represented_by"
    ).order_by("order", "pk"):
        if row.organisation.code in concerned:
            parties.append(_party(amendment, row, signatory=row))
    for entry in amendment.added_signatories.select_related(
        "organisation", "signer", "represented_by"
    ).order_by("order", "pk"):
        parties.append(_party(amendment, entry, added=entry))
    return data, parties


def _party(amendment: Amendment, row: Any, **link: Any) -> AmendmentParty:
    """The party frozen from its signatory (or the signatory the amendment adds), with its
    visa circuit: the signatory's own, else its organisation's."""
    party = AmendmentParty.objects.create(
        amendment=amendment,
        amendment_version=amendment.version,
        organisation=row.organisation,
        kind=row.kind,
        signer=row.signer,
        represented_by=row.represented_by,
        order=row.order,
        mandate_reference=row.mandate_reference,
        mandate_date=row.mandate_date,
        **link,
    )
    holders = (
        row.visa_holders()
        if isinstance(row, Signatory)
        else organisation_visa_holders(row.organisation_id)
    )
    AmendmentPartyVisa.objects.bulk_create(
        AmendmentPartyVisa(party=party, person_id=person_id, order=rank)
        for rank, person_id in enumerate(holders, start=1)
    )
    return party


def amendment_record_deliberation(
    *, amendment: Amendment, actor: User, number: str, date: datetime.date | None
) -> Amendment:
    """The council's deliberation on the amendment (a coordinator): its concerned parties
    are frozen, its document drawn up and frozen, and they are asked to sign."""
    with _locked(amendment, actor) as (unit, amendment):
        if amendment.status != AmendmentStatus.DELIBERATION:
            raise Conflict(
                _(transitions.AMENDMENT_TRANSITION_NOT_ALLOWED)
                % {
                    "transition": _("Record the amendment's deliberation"),
                    "state": amendment.get_status_display(),
                },
                {"transition": "record_deliberation", "state": amendment.status},
            )
        number = transitions.check_deliberation(number, date)
        assert date is not None  # check_deliberation refuses a missing date
        data, parties = _freeze_parties(amendment)
        transitions.amendment_record_deliberation(
            unit,
            amendment,
            actor=actor,
            number=number,
            date=date,
            document_data=data,
            parties=parties,
        )
        waiting = Task.objects.filter(
            process__contract_id=unit.contract.pk,
            process__flow_class=AmendmentFlow,
            flow_task=AmendmentFlow.await_deliberation,
            status=TaskStatus.NEW,
        ).first()
        if waiting is None:
            raise Conflict(_("The amendment's circuit is not waiting for its deliberation."))
        AmendmentFlow.await_deliberation.run(waiting, unit=unit)
    amendment.refresh_from_db()
    return amendment

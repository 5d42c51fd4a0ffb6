"""Writing a contract in Accord rather than in a file.

A coordinator creates a draft contract, then completes and corrects it part by part (the
parts of a contract file: territory, organisations, people, themes, working groups,
committee, coordinators, signatories) and adds its action sheets. Every change is checked by
the contract file's own rules (``workflows.contract_file``): the contract as it would be
after the change is written as a contract file and validated, so that what is typed in and
what is imported obey one set of rules.

A draft being written is incomplete (no signatories yet, no committee): a change is refused
for the problems it brings, not for the parts still to come, which stop the review's launch
instead (``draft_problems``).
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from .. import transitions
from ..contract_file import (
    FORMAT,
    Problem,
    contract_file_digest,
    contract_file_of,
    contract_file_problems,
    reference_taken_problem,
)
from ..contract_file.export import action_entry
from ..errors import ApplicationError, Conflict, NotAllowed
from ..history import UnitOfWork
from ..models import (
    Action,
    ActionStatus,
    Contract,
    ContractStatus,
    HistoryEvent,
    Organisation,
    Signatory,
    SteeringCommittee,
    Theme,
    User,
    WorkingGroup,
    is_coordinator,
    is_pilot_or_coordinator,
)
from ..selectors import user_may_import_contracts
from .checking import problems_brought
from .checking import refused as _refused
from .imports import (
    contract_fields,
    convention_fields,
    create_actions,
    ensure_organisations,
    ensure_people,
    write_first_versions,
)

# The parts of a contract file a coordinator writes, in the order of the guided form: each
# refers only to parts before it (people to organisations, groups to people...).
SECTIONS = (
    "title",
    "kind",
    "territory",
    "period",
    "organisations",
    "diagnosis",
    "people",
    "themes",
    "working_groups",
    "steering_committee",
    "coordinators",
    "signatories",
)
# What a contract row cannot be created without.
REQUIRED_TO_CREATE = ("reference", "title", "kind", "territory", "period")


def _unknown_parts(changes: dict[str, Any], allowed: Iterable[str]) -> list[Problem]:
    allowed = set(allowed)
    return [
        Problem((key,), _("not a part of a contract that can be written here"))
        for key in changes
        if key not in allowed
    ]


# --- Creating -----------------------------------------------------------------------------


def _person_entry(person: User) -> dict[str, Any]:
    entry: dict[str, Any] = {"username": person.username, "email": person.email}
    if person.civility:
        entry["civility"] = person.civility
    entry |= {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "organisation": person.organisation.code if person.organisation else None,
        "title": person.position,
    }
    return entry


def _with_entry(entries: Any, entry: dict[str, Any], key: str) -> Any:
    """``entries`` with ``entry`` added at the front unless one has its key already."""
    if not isinstance(entries, list):
        return entries  # the schema reports it
    if any(isinstance(item, dict) and item.get(key) == entry[key] for item in entries):
        return entries
    return [entry, *entries]


@transaction.atomic
def contract_create(*, actor: User, fields: dict[str, Any]) -> Contract:
    """A new draft contract from the fields of a contract file: at least its reference,
    title, kind, territory and period; any other part may come now or later. Whoever creates
    it is its first coordinator (and so one of its people, with their organisation)."""
    if not user_may_import_contracts(actor):
        raise NotAllowed(_("You may not create contracts."))
    if actor.organisation is None:
        raise ApplicationError(
            _(
                "Your account belongs to no organisation: an administrator must attach it to "
                "one before you create a contract."
            )
        )
    organisation = actor.organisation
    problems = _unknown_parts(fields, ("reference", "format", "convention", *SECTIONS))
    problems += [
        Problem((key,), _("this field is required"))
        for key in REQUIRED_TO_CREATE
        if fields.get(key) in (None, "")
    ]
    if problems:
        raise _refused(problems)

    document: dict[str, Any] = {
        "format": FORMAT,
        "organisations": [],
        "people": [],
        "themes": [],
        "working_groups": [],
        "coordinators": [],
        "signatories": [],
        **{key: copy.deepcopy(value) for key, value in fields.items() if key != "format"},
    }
    own_organisation = {
        "code": organisation.code,
        "name": organisation.name,
        "category": organisation.category,
    }
    document["organisations"] = _with_entry(document["organisations"], own_organisation, "code")
    document["people"] = _with_entry(document["people"], _person_entry(actor), "username")
    if (
        isinstance(document["coordinators"], list)
        and actor.username not in document["coordinators"]
    ):
        document["coordinators"] = [actor.username, *document["coordinators"]]

    # The parts not given are to come: their absence is no problem yet.
    written = {*fields, "organisations", "people", "coordinators"}
    problems = [
        problem
        for problem in contract_file_problems(document)
        if problem.path and problem.path[0] in written
    ]
    if problems:
        raise _refused(problems)

    reference = document["reference"]
    try:
        with transaction.atomic():
            contract = Contract.objects.create(
                reference=reference,
                **contract_fields(document, {}),
                **convention_fields(document),
            )
    except IntegrityError as exc:
        # Another creation of the same reference won the race the check above ran.
        raise _refused([reference_taken_problem(reference)]) from exc
    parts = [key for key in SECTIONS if key in written and key not in ("title", "kind")]
    _write(contract, document, parts)
    actions = _write_actions_of_themes(contract, document, author=actor)
    with UnitOfWork(contract) as unit:
        unit.record(
            event=HistoryEvent.CREATED,
            actor=actor,
            to_state=contract.status,
            data={
                "parts": sorted(key for key in written if key in SECTIONS),
                "actions": actions,
                "sha256": contract_file_digest(contract_file_of(contract)),
            },
        )
    return contract


# --- Editing ------------------------------------------------------------------------------


def _require_draft_coordinator(contract: Contract, actor: User) -> None:
    if not is_coordinator(contract, actor):
        raise NotAllowed(_("Only a coordinator of the contract may change it."))
    if contract.status != ContractStatus.DRAFT:
        raise Conflict(
            _("The contract can be changed only while it is a draft; it is “%(state)s”.")
            % {"state": contract.get_status_display()},
            {"state": contract.status},
        )


def _new_problems(
    before: dict[str, Any], after: dict[str, Any], contract: Contract, written: set[str]
) -> list[Problem]:
    """The problems of ``after`` the change of parts ``written`` is answerable for."""
    return problems_brought(before, after, contract, [(key,) for key in written])


@transaction.atomic
def contract_edit(*, contract: Contract, actor: User, changes: dict[str, Any]) -> Contract:
    """Write some parts of a draft contract (keys of a contract file; a theme's sheets are
    written one by one, by ``action_add`` and ``action_sheet_save``), all or nothing."""
    with UnitOfWork.lock(contract.pk) as unit:
        contract = unit.contract
        _require_draft_coordinator(contract, actor)
        changes = dict(changes)
        problems = _unknown_parts(changes, ("reference", "format", *SECTIONS))
        if changes.pop("reference", contract.reference) != contract.reference:
            # The history's entries are chained under the reference: it never changes.
            problems.append(
                Problem(("reference",), _("a contract's reference cannot change once created"))
            )
        if changes.pop("format", FORMAT) != FORMAT:
            problems.append(Problem(("format",), _("must be %(format)s") % {"format": FORMAT}))
        if problems:
            raise _refused(problems)

        before = contract_file_of(contract)
        after = {**before, **copy.deepcopy(changes)}
        problems = _themes_keep_their_sheets(before, after) if "themes" in changes else []
        if (
            isinstance(after.get("coordinators"), list)
            and actor.username in before["coordinators"]
            and actor.username not in after["coordinators"]
        ):
            problems.append(
                Problem(
                    ("coordinators",),
                    _("you cannot remove yourself: another coordinator must do it"),
                )
            )
        problems += _new_problems(before, after, contract, set(changes))
        if problems:
            raise _refused(problems)
        _write(contract, after, [key for key in SECTIONS if key in changes])
        unit.record(
            event=HistoryEvent.EDITED,
            actor=actor,
            data={
                "parts": [key for key in SECTIONS if key in changes],
                "sha256": contract_file_digest(contract_file_of(contract)),
            },
        )
    return contract


def _themes_keep_their_sheets(before: dict[str, Any], after: dict[str, Any]) -> list[Problem]:
    """Themes are written without their sheets: each keeps the sheets it has, and one that
    still has some cannot go."""
    themes = after.get("themes")
    if not isinstance(themes, list):
        return []
    sheets = {theme["code"]: theme["actions"] for theme in before["themes"]}
    problems = []
    kept = set()
    for index, theme in enumerate(themes):
        if not isinstance(theme, dict):
            continue
        if "actions" in theme:
            problems.append(
                Problem(
                    ("themes", index, "actions"),
                    _("a theme's action sheets are added and written one by one, not here"),
                )
            )
        code = theme.get("code")
        theme["actions"] = sheets.get(code, []) if isinstance(code, str) else []
        kept.add(code)
    for code, actions in sheets.items():
        if actions and code not in kept:
            problems.append(
                Problem(
                    ("themes",),
                    _("theme “%(code)s” still has action sheets (%(actions)s): move them first")
                    % {"code": code, "actions": ", ".join(action["code"] for action in actions)},
                )
            )
    return problems


# --- Writing the parts ----------------------------------------------------------------------


def _date(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def _write(contract: Contract, document: dict[str, Any], parts: list[str]) -> None:
    """Write the ``parts`` of a checked document on the contract, in the order of SECTIONS
    (organisations and people before what names them)."""
    organisations = ensure_organisations(document["organisations"])
    people = ensure_people(document["people"], organisations)
    if {"title", "kind", "territory", "period", "diagnosis"} & set(parts):
        for name, value in contract_fields(document, organisations).items():
            setattr(contract, name, value)
        contract.save()
    if "organisations" in parts:
        contract.organisations.set(organisations.values())
    if "people" in parts:
        contract.participants.set(people.values())
    if "themes" in parts:
        _write_themes(contract, document["themes"])
    if "working_groups" in parts:
        _write_working_groups(contract, document["working_groups"], people)
    if "steering_committee" in parts:
        _write_committee(contract, document["steering_committee"], people)
    if "coordinators" in parts:
        contract.coordinators.set([people[username] for username in document["coordinators"]])
    if "signatories" in parts:
        _write_signatories(contract, document["signatories"], organisations, people)


def _write_themes(contract: Contract, entries: list[dict]) -> None:
    existing = {theme.code: theme for theme in contract.themes.all()}
    for position, entry in enumerate(entries):
        theme = existing.pop(entry["code"], None) or Theme(contract=contract, code=entry["code"])
        theme.title, theme.position = entry["title"], position
        theme.save()
    for theme in existing.values():  # checked: none of them has sheets
        theme.delete()


def _write_working_groups(contract: Contract, entries: list[dict], people: dict[str, User]) -> None:
    existing = {group.code: group for group in contract.working_groups.all()}
    for entry in entries:
        group = existing.pop(entry["code"], None) or WorkingGroup(
            contract=contract, code=entry["code"]
        )
        group.title = entry["title"]
        group.save()
        group.leads.set([people[username] for username in entry["leads"]])
        # A lead is a member of their group too, as everywhere else in Accord.
        usernames = dict.fromkeys([*entry["leads"], *entry["members"]])
        group.members.set([people[username] for username in usernames])
    for group in existing.values():  # checked: no sheet names them
        group.delete()


def _write_committee(contract: Contract, entry: dict | None, people: dict[str, User]) -> None:
    if entry is None:
        SteeringCommittee.objects.filter(contract=contract).delete()
        return
    committee, _created = SteeringCommittee.objects.update_or_create(
        contract=contract, defaults={"chair": people[entry["chair"]], "quorum": entry["quorum"]}
    )
    committee.members.set([people[username] for username in entry["members"]])


def _write_signatories(
    contract: Contract,
    entries: list[dict],
    organisations: dict[str, Organisation],
    people: dict[str, User],
) -> None:
    existing = {s.organisation.code: s for s in contract.signatories.select_related("organisation")}
    for entry in entries:
        signatory = existing.pop(entry["organisation"], None) or Signatory(
            contract=contract, organisation=organisations[entry["organisation"]]
        )
        mandate = entry.get("mandate") or {}
        represented_by = entry.get("represented_by")
        signatory.kind = entry["kind"]
        signatory.signer = people[entry["signer"]]
        signatory.represented_by = people[represented_by] if represented_by else None
        signatory.order = entry.get("order") or 1
        signatory.mandate_reference = mandate.get("reference") or ""
        signatory.mandate_date = _date(mandate.get("date"))
        signatory.save()
    for signatory in existing.values():
        try:
            with transaction.atomic():
                signatory.delete()
        except ProtectedError as exc:
            # It signed an earlier version: the evidence of that signature stays.
            raise Conflict(
                _(
                    "%(organisation)s signed an earlier version of this contract: it stays "
                    "among the signatories."
                )
                % {"organisation": signatory.organisation.name}
            ) from exc


def _write_actions_of_themes(contract: Contract, document: dict[str, Any], *, author: User) -> int:
    """The sheets the themes of a new contract's document bring, each its version 1."""
    themes = {theme.code: theme for theme in contract.themes.all()}
    sheets = [
        (themes[entry["code"]], sheet)
        for entry in document.get("themes") or []
        for sheet in entry["actions"]
    ]
    if not sheets:
        return 0
    people = {person.username: person for person in contract.participants.all()}
    organisations = {
        organisation.code: organisation for organisation in contract.organisations.all()
    }
    groups = {group.code: group for group in contract.working_groups.all()}
    actions = create_actions(contract, sheets, organisations, people, groups)
    write_first_versions(
        Action.objects.filter(pk__in=[a.pk for a in actions.values()]), author=author
    )
    return len(sheets)


# --- Action sheets ------------------------------------------------------------------------


@transaction.atomic
def action_add(*, contract: Contract, actor: User, theme: str, sheet: dict[str, Any]) -> Action:
    """A new action sheet in theme ``theme`` of a draft contract, written as a contract file
    writes a sheet (the schema's ``action``): its version 1."""
    with UnitOfWork.lock(contract.pk) as unit:
        contract = unit.contract
        _require_draft_coordinator(contract, actor)
        before = contract_file_of(contract)
        after = copy.deepcopy(before)
        themes = [entry for entry in after["themes"] if entry["code"] == theme]
        if not themes:
            raise _refused([Problem(("theme",), _('unknown theme "%(code)s"') % {"code": theme})])
        code = sheet.get("code")
        # A code the contract holds, the rules below refuse; a removed sheet's, only the
        # database knows.
        if (
            isinstance(code, str)
            and contract.actions.filter(code=code.strip(), status=ActionStatus.REMOVED).exists()
        ):
            raise _refused(
                [
                    Problem(
                        ("code",),
                        _(
                            'the code "%(code)s" belonged to a sheet removed from this '
                            "contract: give this one another code"
                        )
                        % {"code": code.strip()},
                    )
                ]
            )
        index = after["themes"].index(themes[0])
        themes[0]["actions"].append(copy.deepcopy(sheet))
        path = ("themes", index, "actions", len(themes[0]["actions"]) - 1)
        had = {str(problem) for problem in contract_file_problems(before, contract=contract)}
        problems = [
            Problem(problem.path[len(path) :], problem.message)
            if problem.path[: len(path)] == path
            else problem
            for problem in contract_file_problems(after, contract=contract)
            if problem.path[: len(path)] == path or str(problem) not in had
        ]
        if problems:
            raise _refused(problems)
        organisations = {
            o.code: o
            for o in Organisation.objects.filter(
                code__in=[entry["code"] for entry in after["organisations"]]
            )
        }
        people = {
            p.username: p
            for p in User.objects.filter(
                username__in=[entry["username"] for entry in after["people"]]
            )
        }
        groups = {group.code: group for group in contract.working_groups.all()}
        last = contract.actions.order_by("-position").values_list("position", flat=True).first()
        actions = create_actions(
            contract,
            [(contract.themes.get(code=theme), sheet)],
            organisations,
            people,
            groups,
            first_position=0 if last is None else last + 1,
        )
        action = actions[sheet["code"]]
        write_first_versions(Action.objects.filter(pk=action.pk), author=actor)
        version = action.versions.get()
        unit.record(
            event=HistoryEvent.ACTION_ADDED,
            actor=actor,
            action=action,
            to_state=action.status,
            data={"version": version.number, "sha256": version.sha256},
        )
    return action


@transaction.atomic
def action_remove(*, action: Action, actor: User, comment: str = "") -> Action:
    """Take a sheet out of a draft contract (its pilot or a coordinator). The row stays, in
    state ``removed``, for the history that names it; the contract no longer holds it, and its
    code is not given again."""
    with UnitOfWork.lock(action.contract_id) as unit:
        action = unit.contract.actions.select_for_update().get(pk=action.pk)
        action.contract = unit.contract
        if not is_pilot_or_coordinator(action, actor):
            raise NotAllowed(_("Only the action's pilot or a coordinator may remove its sheet."))
        transitions.fire(unit, action, "remove", actor=actor, comment=comment.strip())
    return action


def sheet_entry(action: Action) -> dict[str, Any]:
    """The sheet as the contract file writes it, with its theme's code (the API's reading)."""
    return {"theme": action.theme.code, **action_entry(action)}

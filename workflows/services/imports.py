"""A contract and everything it names, created from a contract file."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.utils.translation import ngettext

from ..contract_file import (
    amount_of,
    contract_file_digest,
    reference_taken_error,
    validate_contract_file,
)
from ..conventions import ConventionText, default_convention
from ..errors import InvalidContractFile
from ..history import UnitOfWork
from ..models import (
    Action,
    ActionVersion,
    Contract,
    FundingLine,
    HistoryEvent,
    Indicator,
    Organisation,
    OrganisationVisa,
    Signatory,
    SignatoryVisa,
    SteeringCommittee,
    Theme,
    User,
    WorkingGroup,
    content_sha256,
    fields_with_full_name,
    organisation_visa_holders,
    sheet_content,
)

# --- Contract import ----------------------------------------------------------------------


def _import_refused(count: int) -> str:
    return ngettext(
        "The contract file has %(count)d problem; nothing was imported.",
        "The contract file has %(count)d problems; nothing was imported.",
        count,
    ) % {"count": count}


def _date(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


@transaction.atomic
def contract_import(*, document: dict, actor: User | None) -> Contract:
    """Create a contract and everything it names from a contract file, all or nothing.

    The whole file is checked first, so that a refusal lists every problem at once; the
    transaction then guarantees that a failure half-way leaves nothing behind. Organisations
    and people already known (by code, by username) are reused as they are.
    """
    errors = validate_contract_file(document)
    if errors:
        raise InvalidContractFile(_import_refused(len(errors)), errors)

    organisations = ensure_organisations(document["organisations"])
    people = ensure_people(document["people"], organisations)
    contract = _import_contract_row(document, organisations)
    contract.organisations.add(*organisations.values())
    contract.participants.add(*people.values())
    contract.coordinators.add(*(people[username] for username in document["coordinators"]))
    groups = _import_working_groups(contract, document["working_groups"], people)
    actions = _import_themes(contract, document["themes"], organisations, people, groups)
    # The file's author is not known: the import's versions 1 have none.
    write_first_versions(contract.actions.all(), author=None)
    _import_steering_committee(contract, document["steering_committee"], people)
    signatories = _import_signatories(contract, document["signatories"], organisations, people)
    _import_visas(contract, document, organisations, people)

    with UnitOfWork(contract) as unit:
        unit.record(
            event=HistoryEvent.IMPORTED,
            actor=actor,
            to_state=contract.status,
            data={
                "format": document["format"],
                "actions": actions,
                "working_groups": len(groups),
                "signatories": signatories,
                "sha256": contract_file_digest(document),
            },
        )
    return contract


def ensure_organisations(entries: list[dict]) -> dict[str, Organisation]:
    """code -> Organisation, creating the missing ones."""
    codes = [entry["code"] for entry in entries]
    existing = Organisation.objects.in_bulk(codes, field_name="code")
    # ignore_conflicts: another import creating the same organisation meanwhile is no error.
    Organisation.objects.bulk_create(
        [
            Organisation(code=entry["code"], name=entry["name"], category=entry["category"])
            for entry in entries
            if entry["code"] not in existing
        ],
        ignore_conflicts=True,
    )
    return Organisation.objects.in_bulk(codes, field_name="code")


def ensure_people(entries: list[dict], organisations: dict[str, Organisation]) -> dict[str, User]:
    """username -> User; new accounts get no usable password (an invitation sets one)."""
    usernames = [entry["username"] for entry in entries]
    existing = User.objects.in_bulk(usernames, field_name="username")
    new_people = []
    for entry in entries:
        if entry["username"] in existing:
            continue
        person = User(
            username=entry["username"],
            email=entry["email"],
            organisation=organisations[entry["organisation"]],
            **_name_and_position(entry),
        )
        person.set_unusable_password()
        new_people.append(person)
    User.objects.bulk_create(new_people, ignore_conflicts=True)
    return User.objects.in_bulk(usernames, field_name="username")


def _name_and_position(entry: dict) -> dict[str, str]:
    """A person's civility, first and last name and position (the file's ``title``).

    A ``full_name``, as every file had before people had a name of their own, is read as
    migration 0011 read it in the databases: a name ("Mme Claire Martin") fills the name
    when the entry gives none, any other text ("Chargée de mission ARS") joins the position.
    """
    fields = {
        "civility": entry.get("civility") or "",
        "first_name": (entry.get("first_name") or "").strip(),
        "last_name": (entry.get("last_name") or "").strip(),
        "position": (entry.get("title") or "").strip(),
    }
    full_name = (entry.get("full_name") or "").strip()
    return fields_with_full_name(full_name, **fields) if full_name else fields


def contract_fields(document: dict, organisations: dict[str, Organisation]) -> dict[str, Any]:
    """The contract row's fields as a checked contract file gives them: its header, its
    diagnosis (``organisations``: the diagnosis author's, by code)."""
    diagnosis = document.get("diagnosis") or {}
    author = diagnosis.get("author")
    territory, period = document["territory"], document["period"]
    return {
        "title": document["title"],
        "kind": document["kind"],
        "territory_name": territory["name"],
        "territory_communes": territory.get("communes"),
        "territory_population": territory.get("population"),
        "period_start": _date(period["start"]),
        "period_end": _date(period["end"]),
        "diagnosis_author": organisations.get(author) if author else None,
        "diagnosis_finalised_on": _date(diagnosis.get("finalised_on")),
        "diagnosis_summary": diagnosis.get("summary") or "",
    }


def convention_fields(document: dict) -> dict[str, Any]:
    """The file's convention, else the kind's default: the contract keeps its own copy."""
    convention = (
        ConventionText.of_data(document["convention"])
        if document.get("convention")
        else default_convention(document["kind"])
    ).as_data()
    return {
        "convention_preamble": convention["preamble"],
        "convention_articles": convention["articles"],
    }


def _import_contract_row(document: dict, organisations: dict[str, Organisation]) -> Contract:
    reference = document["reference"]
    try:
        # Checked in validation, but a concurrent import of the same file may win the race:
        # the unique index decides, and the loser is told as if validation had seen it.
        with transaction.atomic():
            return Contract.objects.create(
                reference=reference,
                **contract_fields(document, organisations),
                **convention_fields(document),
            )
    except IntegrityError as exc:
        raise InvalidContractFile(_import_refused(1), [reference_taken_error(reference)]) from exc


def _import_working_groups(
    contract: Contract, entries: list[dict], people: dict[str, User]
) -> dict[str, WorkingGroup]:
    WorkingGroup.objects.bulk_create(
        [
            WorkingGroup(contract=contract, code=entry["code"], title=entry["title"])
            for entry in entries
        ]
    )
    # Read back rather than trust bulk_create to have set primary keys on every backend.
    groups = {group.code: group for group in contract.working_groups.all()}
    leads, members = WorkingGroup.leads.through, WorkingGroup.members.through
    leads.objects.bulk_create(
        [
            leads(workinggroup=groups[entry["code"]], user=people[username])
            for entry in entries
            for username in dict.fromkeys(entry["leads"])
        ]
    )
    # A lead is a member of their group too, as everywhere else in Accord.
    members.objects.bulk_create(
        [
            members(workinggroup=groups[entry["code"]], user=people[username])
            for entry in entries
            for username in dict.fromkeys([*entry["leads"], *entry["members"]])
        ]
    )
    return groups


def _import_themes(
    contract: Contract,
    entries: list[dict],
    organisations: dict[str, Organisation],
    people: dict[str, User],
    groups: dict[str, WorkingGroup],
) -> int:
    """Themes and their actions in file order; returns the number of actions."""
    Theme.objects.bulk_create(
        [
            Theme(contract=contract, code=entry["code"], title=entry["title"], position=position)
            for position, entry in enumerate(entries)
        ]
    )
    themes = {theme.code: theme for theme in contract.themes.all()}
    sheets = [(themes[entry["code"]], sheet) for entry in entries for sheet in entry["actions"]]
    create_actions(contract, sheets, organisations, people, groups)
    return len(sheets)


def create_actions(
    contract: Contract,
    sheets: list[tuple[Theme, dict]],
    organisations: dict[str, Organisation],
    people: dict[str, User],
    groups: dict[str, WorkingGroup],
    *,
    first_position: int = 0,
) -> dict[str, Action]:
    """The action sheets as a contract file writes them (the schema's ``action``), each in
    its theme, numbered from ``first_position``; returns them by code. Their versions are
    the caller's to write."""
    Action.objects.bulk_create(
        [
            Action(
                contract=contract,
                theme=theme,
                code=sheet["code"],
                title=sheet["title"],
                objective=sheet["objective"],
                operational_objectives=sheet.get("operational_objectives") or [],
                description=sheet.get("description") or "",
                target_public=sheet.get("target_public") or "",
                place=sheet.get("place") or "",
                starts_on=_date((sheet.get("schedule") or {}).get("start")),
                ends_on=_date((sheet.get("schedule") or {}).get("end")),
                milestones=(sheet.get("schedule") or {}).get("milestones") or [],
                pilot=people[sheet["pilot"]],
                working_group=groups[sheet["working_group"]],
                position=position,
            )
            for position, (theme, sheet) in enumerate(sheets, start=first_position)
        ]
    )
    codes = [sheet["code"] for _theme, sheet in sheets]
    actions = {action.code: action for action in contract.actions.filter(code__in=codes)}
    partners = Action.partners.through
    partners.objects.bulk_create(
        [
            partners(action=actions[sheet["code"]], organisation=organisations[code])
            for _theme, sheet in sheets
            for code in dict.fromkeys(sheet["partners"])
        ]
    )
    FundingLine.objects.bulk_create(
        [
            FundingLine(
                action=actions[sheet["code"]],
                funder=organisations[line["funder"]],
                amount=amount_of(line["amount"]),
                year=line.get("year"),
                status=line.get("status") or "",
            )
            for _theme, sheet in sheets
            for line in sheet["funding"]
        ]
    )
    Indicator.objects.bulk_create(
        [
            _indicator(actions[sheet["code"]], item, position)
            for _theme, sheet in sheets
            for position, item in enumerate(sheet["indicators"])
        ]
    )
    return actions


def _indicator(action: Action, item: str | dict, position: int) -> Indicator:
    """An indicator written as its name alone, or as an object with its measure."""
    if isinstance(item, str):
        return Indicator(action=action, label=item, position=position)
    return Indicator(
        action=action,
        label=item["name"],
        unit=item.get("unit") or "",
        baseline=item.get("baseline") or "",
        target=item.get("target") or "",
        source=item.get("source") or "",
        position=position,
    )


def write_first_versions(actions: QuerySet[Action], *, author: User | None) -> None:
    """Each action sheet as it was written on its creation is its version 1."""
    actions = actions.prefetch_related(
        "partners",
        "indicators",
        Prefetch("funding_lines", queryset=FundingLine.objects.select_related("funder")),
    )
    versions = []
    for action in actions:
        content = sheet_content(action)
        versions.append(
            ActionVersion(
                action=action,
                number=1,
                content=content,
                sha256=content_sha256(content),
                author=author,
            )
        )
    ActionVersion.objects.bulk_create(versions)


def _import_steering_committee(
    contract: Contract, entry: dict, people: dict[str, User]
) -> SteeringCommittee:
    committee = SteeringCommittee.objects.create(
        contract=contract, chair=people[entry["chair"]], quorum=entry["quorum"]
    )
    committee.members.add(*(people[username] for username in entry["members"]))
    return committee


def _import_signatories(
    contract: Contract,
    entries: list[dict],
    organisations: dict[str, Organisation],
    people: dict[str, User],
) -> int:
    signatories = []
    for entry in entries:
        mandate = entry.get("mandate") or {}
        represented_by = entry.get("represented_by")
        signatories.append(
            Signatory(
                contract=contract,
                organisation=organisations[entry["organisation"]],
                kind=entry["kind"],
                signer=people[entry["signer"]],
                represented_by=people.get(represented_by) if represented_by is not None else None,
                order=entry.get("order") or 1,
                mandate_reference=mandate.get("reference") or "",
                mandate_date=_date(mandate.get("date")),
            )
        )
    Signatory.objects.bulk_create(signatories)
    return len(signatories)


def _import_visas(
    contract: Contract,
    document: dict,
    organisations: dict[str, Organisation],
    people: dict[str, User],
) -> None:
    """The internal visa circuits. An organisation's, from its ``visas``, when it has none
    yet (an organisation already known is reused as it is); a signatory whose organisation's
    circuit is not the file's gets the file's as its own, so that the contract follows the
    file either way. A signatory's own ``visas`` (possibly empty) replace its organisation's."""
    given = {
        entry["code"]: [people[username].pk for username in entry["visas"]]
        for entry in document["organisations"]
        if entry.get("visas")
    }
    known = set(
        OrganisationVisa.objects.filter(
            organisation__in=[organisations[code] for code in given]
        ).values_list("organisation__code", flat=True)
    )
    OrganisationVisa.objects.bulk_create(
        OrganisationVisa(organisation=organisations[code], person_id=person_id, order=rank)
        for code, holders in given.items()
        if code not in known
        for rank, person_id in enumerate(holders, start=1)
    )
    own: dict[str, list[int]] = {
        entry["organisation"]: [people[username].pk for username in entry["visas"]]
        for entry in document["signatories"]
        if entry.get("visas") is not None
    }
    for code in given.keys() & known - own.keys():
        if organisation_visa_holders(organisations[code].pk) != given[code]:
            own[code] = given[code]
    if not own:
        return
    signatories = {
        s.organisation.code: s
        for s in contract.signatories.filter(organisation__code__in=own).select_related(
            "organisation"
        )
    }
    for code in own:
        signatories[code].own_visas = True
    Signatory.objects.bulk_update(list(signatories.values()), ["own_visas"])
    SignatoryVisa.objects.bulk_create(
        SignatoryVisa(signatory=signatories[code], person_id=person_id, order=rank)
        for code, holders in own.items()
        for rank, person_id in enumerate(holders, start=1)
    )

"""A contract as a contract file (``accord.contract/1``): the import's way back.

``contract_file_of`` reads a contract and everything it names from the database, in a fixed
number of queries, and writes the document the import would need to create the same contract:
importing it under another reference gives a contract whose export is the same document but
the reference. The contract's life (states, tasks, votes, signatures, history) is not part of
a contract file and is not exported. Nothing is written: an export is a read.

Lists the database keeps without an order are written in a fixed one (organisations, people,
partners and usernames sorted), so that two exports of the same contract are the same text.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from django.db.models import Prefetch, QuerySet

from ..conventions import convention_of
from ..models import (
    Action,
    Contract,
    FundingLine,
    Organisation,
    OrganisationVisa,
    Signatory,
    SignatoryVisa,
    SteeringCommittee,
    User,
    WorkingGroup,
    sheet_content,
)

FORMAT = "accord.contract/1"  # the schema's "format" constant, the version this package reads

# The export's file formats: extension -> content type.
EXPORT_FORMATS = {
    "json": "application/json",
    "yaml": "application/yaml",
}


def _people() -> QuerySet[User]:
    return User.objects.select_related("organisation")


def _contract_with_everything(contract: Contract) -> Contract:
    """The contract again, with all it names prefetched: a fixed number of queries."""
    return (
        Contract.objects.select_related("diagnosis_author")
        .prefetch_related(
            "organisations",
            Prefetch("participants", queryset=_people()),
            Prefetch("coordinators", queryset=_people()),
            Prefetch(
                "working_groups",
                queryset=WorkingGroup.objects.prefetch_related(
                    Prefetch("leads", queryset=_people()),
                    Prefetch("members", queryset=_people()),
                ),
            ),
            "themes",
            Prefetch(
                "actions",
                queryset=Action.objects.in_contract()
                .select_related("pilot__organisation", "working_group")
                .prefetch_related(
                    "partners",
                    "indicators",
                    Prefetch(
                        "funding_lines", queryset=FundingLine.objects.select_related("funder")
                    ),
                ),
            ),
            Prefetch(
                "signatories",
                queryset=Signatory.objects.select_related(
                    "organisation", "signer__organisation", "represented_by__organisation"
                ).prefetch_related(
                    Prefetch(
                        "visas",
                        queryset=SignatoryVisa.objects.select_related("person__organisation"),
                    )
                ),
            ),
        )
        .get(pk=contract.pk)
    )


def _committee(contract: Contract) -> SteeringCommittee | None:
    return (
        SteeringCommittee.objects.select_related("chair__organisation")
        .prefetch_related(Prefetch("members", queryset=_people()))
        .filter(contract=contract)
        .first()
    )


def _usernames(people: Any) -> list[str]:
    return sorted(person.username for person in people)


def action_entry(action: Action) -> dict[str, Any]:
    """One action sheet as the contract file writes it (the schema's ``action``): the sheet as
    its versions keep it (``sheet_content``, in the file's words), its optional parts left out
    when empty, an indicator with nothing but its name written as that name."""
    sheet = sheet_content(action)
    entry: dict[str, Any] = {
        "code": sheet["code"],
        "title": sheet["title"],
        "objective": sheet["objective"],
    }
    for part in ("operational_objectives", "description", "target_public", "place"):
        if sheet[part]:
            entry[part] = sheet[part]
    schedule = {key: value for key, value in sheet["schedule"].items() if value}
    if schedule:
        entry["schedule"] = schedule
    entry |= {
        "pilot": action.pilot.username,
        "working_group": action.working_group.code,
        "partners": sheet["partners"],
        "funding": [
            {key: value for key, value in line.items() if value is not None}
            for line in sheet["funding"]
        ],
        "indicators": [
            indicator["name"]
            if not any(indicator[key] for key in ("unit", "baseline", "target", "source"))
            else {key: value for key, value in indicator.items() if value}
            for indicator in sheet["indicators"]
        ],
    }
    return entry


def _person_entry(person: User) -> dict[str, Any]:
    entry: dict[str, Any] = {"username": person.username}
    if person.civility:
        entry["civility"] = person.civility
    entry["first_name"] = person.first_name
    entry["last_name"] = person.last_name
    entry["email"] = person.email
    if person.organisation is not None:
        entry["organisation"] = person.organisation.code
    entry["title"] = person.position
    return entry


def _organisation_entry(organisation: Organisation, visas: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "code": organisation.code,
        "name": organisation.name,
        "category": organisation.category,
    }
    if visas:
        entry["visas"] = visas
    return entry


def _signatory_entry(signatory: Signatory) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "organisation": signatory.organisation.code,
        "kind": signatory.kind,
        "signer": signatory.signer.username,
    }
    if signatory.represented_by is not None:
        entry["represented_by"] = signatory.represented_by.username
    entry["order"] = signatory.order
    if signatory.mandate_reference and signatory.mandate_date:
        entry["mandate"] = {
            "reference": signatory.mandate_reference,
            "date": signatory.mandate_date.isoformat(),
        }
    if signatory.own_visas:
        entry["visas"] = [visa.person.username for visa in signatory.visas.all()]
    return entry


def contract_file_of(contract: Contract) -> dict[str, Any]:
    """The contract as a contract file (``accord.contract/1``), importable again.

    Every organisation and person the contract refers to is listed, even one the contract
    came to name after its import, so that the document stands on its own.
    """
    contract = _contract_with_everything(contract)
    committee = _committee(contract)
    groups = list(contract.working_groups.all())
    actions = sorted(contract.actions.all(), key=lambda action: (action.position, action.pk))
    signatories = sorted(contract.signatories.all(), key=lambda s: (s.order, s.pk))

    people: dict[str, User] = {}
    named = [
        *contract.participants.all(),
        *contract.coordinators.all(),
        *(person for group in groups for person in (*group.leads.all(), *group.members.all())),
        *(action.pilot for action in actions),
        *(person for s in signatories for person in (s.signer, s.represented_by) if person),
        *(visa.person for s in signatories for visa in s.visas.all()),
    ]
    if committee is not None:
        named += [committee.chair, *committee.members.all()]
    for person in named:
        people.setdefault(person.username, person)

    organisations: dict[str, Organisation] = {o.code: o for o in contract.organisations.all()}
    referred = [
        *(person.organisation for person in people.values() if person.organisation),
        *(partner for action in actions for partner in action.partners.all()),
        *(line.funder for action in actions for line in action.funding_lines.all()),
        *(signatory.organisation for signatory in signatories),
    ]
    if contract.diagnosis_author is not None:
        referred.append(contract.diagnosis_author)
    for organisation in referred:
        organisations.setdefault(organisation.code, organisation)

    document: dict[str, Any] = {
        "format": FORMAT,
        "reference": contract.reference,
        "title": contract.title,
        "kind": contract.kind,
        "territory": {
            "name": contract.territory_name,
            "communes": contract.territory_communes,
            "population": contract.territory_population,
        },
        "period": {
            "start": contract.period_start.isoformat(),
            "end": contract.period_end.isoformat(),
        },
    }
    if contract.diagnosis_author is not None and contract.diagnosis_finalised_on is not None:
        document["diagnosis"] = {
            "author": contract.diagnosis_author.code,
            "finalised_on": contract.diagnosis_finalised_on.isoformat(),
            "summary": contract.diagnosis_summary,
        }
    circuits: dict[str, list[str]] = {}
    for visa in OrganisationVisa.objects.filter(
        organisation__code__in=list(organisations)
    ).select_related("organisation", "person__organisation"):  # in each circuit's order
        circuits.setdefault(visa.organisation.code, []).append(visa.person.username)
        people.setdefault(visa.person.username, visa.person)
    document["organisations"] = [
        _organisation_entry(organisations[code], circuits.get(code, []))
        for code in sorted(organisations)
    ]
    document["people"] = [_person_entry(people[username]) for username in sorted(people)]
    document["themes"] = [
        {
            "code": theme.code,
            "title": theme.title,
            "actions": [action_entry(action) for action in actions if action.theme_id == theme.pk],
        }
        for theme in sorted(contract.themes.all(), key=lambda theme: (theme.position, theme.pk))
    ]
    document["working_groups"] = [
        {
            "code": group.code,
            "title": group.title,
            "leads": _usernames(group.leads.all()),
            "members": _usernames(group.members.all()),
        }
        for group in sorted(groups, key=lambda group: group.code)
    ]
    if committee is not None:
        document["steering_committee"] = {
            "chair": committee.chair.username,
            "members": _usernames(committee.members.all()),
            "quorum": committee.quorum,
        }
    document["coordinators"] = _usernames(contract.coordinators.all())
    document["signatories"] = [_signatory_entry(signatory) for signatory in signatories]
    document["convention"] = convention_of(contract).as_data()
    return document


def contract_file_text(document: dict[str, Any], file_format: str) -> str:
    """The document written as JSON or YAML (``file_format``, a key of EXPORT_FORMATS)."""
    if file_format == "yaml":
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
    if file_format == "json":
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    raise ValueError(f"unknown contract file format: {file_format}")

"""Importing a contract file: all or nothing, every problem reported with its place in the file."""

import json
from decimal import Decimal

import pytest
import yaml
from django.utils.translation import override

from tests.factories import ContractFactory, OrganisationFactory, UserFactory
from workflows.contract_file import (
    contract_file_digest,
    parse_contract_file,
    validate_contract_file,
)
from workflows.errors import ContractFileTooLarge, InvalidContractFile
from workflows.history import UnitOfWork
from workflows.models import (
    Action,
    Contract,
    ContractStatus,
    FundingLine,
    HistoryEntry,
    HistoryEvent,
    Organisation,
    Signatory,
    SignatoryKind,
    Theme,
    User,
    WorkingGroup,
)
from workflows.selectors import history_verify
from workflows.services import contract_import, imports

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Contract, Organisation, User, HistoryEntry, Theme, WorkingGroup, Action)
    }


def refusal(document) -> InvalidContractFile:
    """Import ``document``, expect a refusal in English, and check that nothing was created."""
    before = counts()
    with override("en"), pytest.raises(InvalidContractFile) as info:
        contract_import(document=document, actor=None)
    assert counts() == before
    return info.value


def problems(document) -> list[str]:
    return refusal(document).errors


# --- The scenario imports completely -------------------------------------------------------


def test_the_scenario_imports_completely(scenario):
    contract = contract_import(document=scenario, actor=None)

    contract.refresh_from_db()
    assert contract.reference == "CLS-TDC-2019"
    assert contract.kind == "CLS"
    assert contract.status == ContractStatus.DRAFT
    assert (contract.territory_communes, contract.territory_population) == (22, 42000)
    assert str(contract.period_start) == "2019-09-01"
    assert str(contract.period_end) == "2022-12-31"
    assert contract.diagnosis_author.code == "ARS-OCC"
    assert str(contract.diagnosis_finalised_on) == "2018-06-30"
    assert contract.themes.count() == 6
    assert contract.actions.count() == 38
    assert contract.working_groups.count() == 10
    assert contract.signatories.count() == 8
    assert contract.organisations.count() == 8
    assert contract.participants.count() == 22
    assert list(contract.coordinators.values_list("username", flat=True)) == ["coordination.cls"]


def test_themes_and_actions_keep_the_files_order(scenario):
    contract = contract_import(document=scenario, actor=None)

    assert list(contract.themes.values_list("code", "position")) == [
        (f"T{n}", n - 1) for n in range(1, 7)
    ]
    file_order = [a["code"] for t in scenario["themes"] for a in t["actions"]]
    assert list(contract.actions.order_by("position").values_list("code", flat=True)) == file_order
    action = contract.actions.get(code="T3-A5")
    assert (action.theme.code, action.working_group.code, action.pilot.username) == (
        "T3",
        "GT5",
        "coordination.cls",
    )
    assert set(action.partners.values_list("code", flat=True)) == {"ARS-OCC", "CH-MTB"}
    assert list(action.indicators.values_list("label", "position")) == [
        ("Indicateur de suivi T3-A5", 0)
    ]


def test_funding_amounts_are_exact(scenario):
    contract = contract_import(document=scenario, actor=None)

    coordinator_post = contract.actions.get(code="T1-A4")
    lines = FundingLine.objects.filter(action=coordinator_post).order_by("pk")
    assert [(line.funder.code, line.amount) for line in lines] == [
        ("CCTDC", Decimal("22500.00")),
        ("ARS-OCC", Decimal("22500.00")),
    ]
    assert coordinator_post.total_funding == Decimal("45000.00")
    assert sum(
        (line.amount for line in FundingLine.objects.filter(action__contract=contract)),
        Decimal(0),
    ) == Decimal("129000.00")


def test_amounts_written_as_numbers_are_read_exactly(scenario):
    raw = json.dumps(scenario).replace('"amount": "7000.00"', '"amount": 7000.10').encode()
    document = parse_contract_file(raw)
    # A caller that parsed the JSON itself hands over floats; they are read as written too.
    document["themes"][1]["actions"][3]["funding"][0]["amount"] = 0.1

    contract = contract_import(document=document, actor=None)

    amounts = FundingLine.objects.filter(action__contract=contract)
    assert amounts.get(action__code="T1-A8").amount == Decimal("7000.10")
    assert amounts.get(action__code="T2-A4").amount == Decimal("0.10")


def test_working_groups_have_their_leads_and_members(scenario):
    contract = contract_import(document=scenario, actor=None)

    group = contract.working_groups.get(code="GT1")
    assert set(group.leads.values_list("username", flat=True)) == {"tech1.ars", "tech1.cctdc"}
    assert set(group.members.values_list("username", flat=True)) == {
        "tech1.ars",
        "tech1.cctdc",
        "adjointe.chic",
        "adjointe.chmtb",
    }


def test_signatories_and_their_representatives(scenario):
    contract = contract_import(document=scenario, actor=None)

    signatories = {s.organisation.code: s for s in contract.signatories.all()}
    assert {code for code, s in signatories.items() if s.kind == SignatoryKind.MANDATORY} == {
        "CCTDC",
        "ARS-OCC",
    }
    assert signatories["CCTDC"].represented_by is None
    assert signatories["CD82"].signer.username == "president.cd82"
    assert signatories["CD82"].represented_by.username == "elue.cd82"
    assert signatories["CD82"].signing_person.username == "elue.cd82"
    assert {s.order for s in signatories.values()} == {1}


def test_a_mandate_and_a_signing_order_are_recorded(scenario):
    scenario["signatories"][2].update(
        {"order": 2, "mandate": {"reference": "Arrêté 2019-12", "date": "2019-01-15"}}
    )

    contract = contract_import(document=scenario, actor=None)

    signatory = Signatory.objects.get(contract=contract, organisation__code="CD82")
    assert (signatory.order, signatory.mandate_reference, str(signatory.mandate_date)) == (
        2,
        "Arrêté 2019-12",
        "2019-01-15",
    )


def test_the_steering_committee(scenario):
    contract = contract_import(document=scenario, actor=None)

    committee = contract.steering_committee
    assert committee.quorum == 3
    assert committee.chair.username == "vp-sante.cctdc"
    assert committee.members.count() == 5


def test_new_people_have_no_usable_password(scenario):
    contract_import(document=scenario, actor=None)

    person = User.objects.get(username="elue.cd82")
    assert (
        person.civility,
        person.first_name,
        person.last_name,
        person.email,
        person.organisation.code,
        person.position,
    ) == (
        "Mme",
        "Monique",
        "Lafforgue",
        "elue.cd82@example.org",
        "CD82",
        "conseillère départementale déléguée",
    )
    assert person.name_with_position == (
        "Mme Monique Lafforgue, conseillère départementale déléguée"
    )
    people = User.objects.filter(username__in=[p["username"] for p in scenario["people"]])
    assert people.count() == 22
    assert not any(person.has_usable_password() for person in people)


# --- People: names and positions ----------------------------------------------------------


def person_entry(scenario, username: str) -> dict:
    return next(entry for entry in scenario["people"] if entry["username"] == username)


def test_people_have_a_civility_a_name_and_a_position(scenario):
    contract_import(document=scenario, actor=None)

    person = User.objects.get(username="tech1.ars")
    assert (person.display_name, person.formal_name) == ("Claire Martin", "Mme Claire Martin")
    assert person.name_with_position == (
        "Mme Claire Martin, cheffe de projet animation territoriale, délégation départementale"
    )
    men = User.objects.filter(
        username__in=[p["username"] for p in scenario["people"]], civility="M."
    )
    assert set(men.values_list("username", flat=True)) >= {"coordination.cls", "dg.ars"}


def test_every_person_of_the_demo_has_a_name_of_their_own(scenario):
    names = [(p["first_name"], p["last_name"]) for p in scenario["people"]]
    assert len(set(names)) == len(names) == 22
    assert {p["civility"] for p in scenario["people"]} == {"Mme", "M."}
    # The position is no name, and no name is a position.
    assert all(p["last_name"] not in p["title"] for p in scenario["people"])


@pytest.mark.parametrize("civility", ["Mlle", "Madame", "mme", "Dr"])
def test_an_unknown_civility_is_refused(scenario, civility):
    scenario["people"][1]["civility"] = civility

    assert problems(scenario) == [
        f'people[1].civility: unknown civility "{civility}" (expected one of Mme, M.)'
    ]
    with override("fr"):
        assert validate_contract_file(scenario) == [
            f'people[1].civility: civilité inconnue "{civility}" (valeurs attendues\u00a0: Mme, M.)'
        ]


def test_names_too_long_for_their_columns_are_refused(scenario):
    scenario["people"][0]["first_name"] = "A" * 151

    assert problems(scenario) == ["people[0].first_name: is too long (151 characters, at most 150)"]


def test_a_person_without_a_name_is_named_by_their_username(scenario):
    entry = person_entry(scenario, "directeur.msa")
    for field in ("civility", "first_name", "last_name"):
        del entry[field]

    contract_import(document=scenario, actor=None)

    person = User.objects.get(username="directeur.msa")
    assert (person.display_name, person.name_with_position) == (
        "directeur.msa",
        "directeur.msa, directeur",
    )


def test_a_file_written_before_names_still_imports(scenario):
    """Its people have a ``full_name``, most often a position (the files of the first
    format, the demo's among them): a position joins the title, a name fills the name."""
    legacy = {
        "tech1.ars": ("Chargée de mission animation territoriale ARS", "Délégation départementale"),
        "president.cctdc": ("Président de la Communauté de communes", "Président"),
        "directeur.msa": ("Directeur de la MSA", ""),
        "tech2.ars": ("Mme Inès Caron", "Chargée de mission prévention"),
        "elu2.cctdc": ("Bruno Lefèvre", "Conseiller communautaire"),
    }
    for username, (full_name, title) in legacy.items():
        entry = person_entry(scenario, username)
        for field in ("civility", "first_name", "last_name"):
            del entry[field]
        entry.update(full_name=full_name, title=title)

    contract_import(document=scenario, actor=None)

    people = User.objects.in_bulk(legacy, field_name="username")
    assert {
        username: (p.civility, p.first_name, p.last_name, p.position)
        for username, p in people.items()
    } == {
        "tech1.ars": (
            "",
            "",
            "",
            "Chargée de mission animation territoriale ARS (Délégation départementale)",
        ),
        "president.cctdc": ("", "", "", "Président de la Communauté de communes"),
        "directeur.msa": ("", "", "", "Directeur de la MSA"),
        "tech2.ars": ("Mme", "Inès", "Caron", "Chargée de mission prévention"),
        "elu2.cctdc": ("", "Bruno", "Lefèvre", "Conseiller communautaire"),
    }
    assert people["tech1.ars"].display_name == "tech1.ars"


def test_a_full_name_beside_the_name_adds_only_what_the_name_lacks(scenario):
    same = person_entry(scenario, "tech1.ars")
    same.update(full_name="Mme Claire Martin")
    del same["civility"]
    other = person_entry(scenario, "dg.ars")
    other.update(full_name="Directeur général")

    contract_import(document=scenario, actor=None)

    claire = User.objects.get(username="tech1.ars")
    assert (claire.formal_name, claire.position) == ("Mme Claire Martin", same["title"])
    director = User.objects.get(username="dg.ars")
    assert (director.formal_name, director.position) == (
        "M. Philippe Garnier",
        "directeur général de l'ARS Occitanie",
    )


def test_existing_organisations_and_people_are_reused(scenario):
    ars = OrganisationFactory(code="ARS-OCC", name="ARS Occitanie")
    director = UserFactory(username="dg.ars", organisation=ars)
    organisations, people = Organisation.objects.count(), User.objects.count()

    contract = contract_import(document=scenario, actor=None)

    assert Organisation.objects.count() == organisations + 7
    assert User.objects.count() == people + 21
    assert contract.signatories.get(organisation=ars).signer == director
    director.refresh_from_db()
    assert director.has_usable_password()  # an existing account is left as it is
    assert Organisation.objects.get(code="ARS-OCC").name == "ARS Occitanie"


def test_one_imported_history_entry_whose_chain_verifies(scenario):
    actor = UserFactory(username="admin")

    contract = contract_import(document=scenario, actor=actor)

    entry = HistoryEntry.objects.get(contract=contract)
    assert entry.event == HistoryEvent.IMPORTED
    assert (entry.actor, entry.to_state, entry.seq) == (actor, "draft", 1)
    assert entry.data == {
        "format": "accord.contract/1",
        "actions": 38,
        "working_groups": 10,
        "signatories": 8,
        "sha256": contract_file_digest(scenario),
    }
    verification = history_verify(contract)
    assert verification.valid
    assert verification.entries == 1


def test_every_imported_row_passes_the_models_own_validation(scenario):
    contract = contract_import(document=scenario, actor=None)

    # The protected FSM status refuses even full_clean's write-back of its own value.
    contract.full_clean(exclude=["status"])
    for related in ("themes", "working_groups", "actions", "signatories"):
        for row in getattr(contract, related).all():
            row.full_clean(exclude=["status"])
    for line in FundingLine.objects.filter(action__contract=contract):
        line.full_clean()
    for person in contract.participants.all():
        person.full_clean()
    contract.steering_committee.full_clean()


def test_the_import_takes_a_bounded_number_of_queries(scenario, django_assert_max_num_queries):
    with django_assert_max_num_queries(40):
        contract_import(document=scenario, actor=None)


def test_a_yaml_version_of_the_scenario_imports(scenario):
    text = yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False)
    # Written by hand, dates and amounts would be bare: they are read as text and exact euros.
    text = text.replace("'2019-09-01'", "2019-09-01").replace("'7000.00'", "7000.10")

    document = parse_contract_file(text.encode(), filename="contrat.yaml")
    contract = contract_import(document=document, actor=None)

    assert document["period"]["start"] == "2019-09-01"
    assert contract.actions.count() == 38
    assert str(contract.period_start) == "2019-09-01"
    assert FundingLine.objects.get(action__code="T1-A8").amount == Decimal("7000.10")


def test_yaml_without_the_yaml_extension_is_read_too(scenario):
    text = yaml.safe_dump(scenario, allow_unicode=True)

    document = parse_contract_file(text.encode(), filename="contrat.txt")

    assert document["reference"] == "CLS-TDC-2019"


def test_a_byte_order_mark_is_tolerated(scenario):
    raw = b"\xef\xbb\xbf" + json.dumps(scenario).encode()

    assert parse_contract_file(raw, filename="contrat.json")["reference"] == "CLS-TDC-2019"


def test_the_sound_scenario_has_no_problem(scenario):
    assert validate_contract_file(scenario) == []


# --- Broken files: every problem with its place, nothing created --------------------------


def test_unknown_working_group(scenario):
    scenario["themes"][2]["actions"][4]["working_group"] = "GT11"

    assert problems(scenario) == [
        'themes[2].actions[4].working_group: unknown working group "GT11"'
    ]


def test_an_action_with_no_working_group(scenario):
    del scenario["themes"][0]["actions"][1]["working_group"]
    scenario["themes"][0]["actions"][2]["working_group"] = " "

    assert problems(scenario) == [
        "themes[0].actions[1].working_group: an action needs a working group",
        "themes[0].actions[2].working_group: an action needs a working group",
    ]


def test_unknown_pilot(scenario):
    scenario["themes"][1]["actions"][0]["pilot"] = "personne"

    assert problems(scenario) == ['themes[1].actions[0].pilot: unknown person "personne"']


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("people", 0, "organisation"), 'people[0].organisation: unknown organisation "XX"'),
        (("diagnosis", "author"), 'diagnosis.author: unknown organisation "XX"'),
        (
            ("themes", 0, "actions", 3, "partners", 1),
            'themes[0].actions[3].partners[1]: unknown organisation "XX"',
        ),
        (
            ("themes", 0, "actions", 3, "funding", 1, "funder"),
            'themes[0].actions[3].funding[1].funder: unknown organisation "XX"',
        ),
        (("working_groups", 4, "members", 0), 'working_groups[4].members[0]: unknown person "XX"'),
        (("working_groups", 4, "leads", 1), 'working_groups[4].leads[1]: unknown person "XX"'),
        (("coordinators", 0), 'coordinators[0]: unknown person "XX"'),
        (("signatories", 3, "signer"), 'signatories[3].signer: unknown person "XX"'),
        (
            ("signatories", 4, "represented_by"),
            'signatories[4].represented_by: unknown person "XX"',
        ),
    ],
)
def test_unknown_references_everywhere(scenario, path, expected):
    *parents, last = path
    target = scenario
    for key in parents:
        target = target[key]
    target[last] = "XX"

    assert expected in problems(scenario)


def test_duplicate_action_code_across_themes(scenario):
    scenario["themes"][1]["actions"][0]["code"] = "T1-A1"

    assert problems(scenario) == [
        'themes[1].actions[0].code: duplicate action code "T1-A1" '
        "(first at themes[0].actions[0].code)"
    ]


def test_duplicate_codes_of_organisations_themes_and_working_groups(scenario):
    scenario["organisations"].append(dict(scenario["organisations"][2]))
    scenario["themes"][5]["code"] = "T1"
    scenario["working_groups"].append(dict(scenario["working_groups"][0]))

    # In the order of the file, where themes come before working groups (they used to be told
    # in the order the sections were checked).
    assert problems(scenario) == [
        'organisations[8].code: duplicate organisation code "CD82" '
        "(first at organisations[2].code)",
        'themes[5].code: duplicate theme code "T1" (first at themes[0].code)',
        'working_groups[10].code: duplicate working group code "GT1" '
        "(first at working_groups[0].code)",
    ]


def test_duplicate_username(scenario):
    scenario["people"].append(dict(scenario["people"][0]))

    assert problems(scenario) == [
        'people[22].username: duplicate username "president.cctdc" (first at people[0].username)'
    ]


def test_no_mandatory_signatory(scenario):
    for signatory in scenario["signatories"]:
        signatory["kind"] = "associated"

    assert problems(scenario) == ["signatories: there is no mandatory signatory"]


def test_an_organisation_with_two_signatories(scenario):
    scenario["signatories"].append(
        {"organisation": "CCTDC", "kind": "associated", "signer": "vp-sante.cctdc"}
    )

    assert problems(scenario) == [
        'signatories[8].organisation: organisation "CCTDC" already has a signatory (signatories[0])'
    ]


def test_a_signer_outside_the_signatorys_organisation(scenario):
    scenario["signatories"][1]["signer"] = "president.cctdc"

    assert problems(scenario) == [
        'signatories[1].signer: "president.cctdc" is not a member of organisation "ARS-OCC"'
    ]


def test_a_representative_outside_the_signatorys_organisation(scenario):
    scenario["signatories"][2]["represented_by"] = "dg.ars"

    assert problems(scenario) == [
        'signatories[2].represented_by: "dg.ars" is not a member of organisation "CD82"'
    ]


def test_a_working_group_without_lead(scenario):
    scenario["working_groups"][3]["leads"] = []

    assert problems(scenario) == [
        "working_groups[3].leads: a working group needs at least one lead"
    ]


def test_a_chair_who_is_not_a_member(scenario):
    scenario["steering_committee"]["chair"] = "president.cctdc"

    assert problems(scenario) == [
        'steering_committee.chair: the chair "president.cctdc" is not a member of the committee'
    ]


def test_quorum_above_the_committee_size(scenario):
    scenario["steering_committee"]["quorum"] = 6

    assert problems(scenario) == [
        "steering_committee.quorum: the quorum (6) is above the committee's size (5)"
    ]


def test_quorum_below_one(scenario):
    scenario["steering_committee"]["quorum"] = 0

    assert problems(scenario) == ["steering_committee.quorum: must be at least 1"]


def test_period_end_before_start(scenario):
    scenario["period"] = {"start": "2022-12-31", "end": "2019-09-01"}

    assert problems(scenario) == ["period.end: the period ends before it starts"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "start",
            "01/09/2019",
            'period.start: must be a date written YYYY-MM-DD, not "01/09/2019"',
        ),
        (
            "start",
            "2019-02-30",
            'period.start: must be a date written YYYY-MM-DD, not "2019-02-30"',
        ),
        ("end", 2022, "period.end: must be a date written YYYY-MM-DD, not a number"),
    ],
)
def test_dates_must_be_iso_dates(scenario, field, value, expected):
    scenario["period"][field] = value

    assert problems(scenario) == [expected]


def test_a_negative_amount(scenario):
    scenario["themes"][0]["actions"][3]["funding"][1]["amount"] = "-22500.00"

    assert problems(scenario) == [
        'themes[0].actions[3].funding[1].amount: must not be negative ("-22500.00")'
    ]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("12,50", 'must be an amount in euros such as "1250.50", not "12,50"'),
        ("1 000", 'must be an amount in euros such as "1250.50", not "1 000"'),
        ("douze", 'must be an amount in euros such as "1250.50", not "douze"'),
        ("1.234", 'has more than 2 decimal places ("1.234")'),
        (Decimal("1.234"), 'has more than 2 decimal places ("1.234")'),
        (12.345, 'has more than 2 decimal places ("12.345")'),
        (float("nan"), 'must be an amount in euros such as "1250.50", not "nan"'),
        ("1000000000000.00", 'is too large ("1000000000000.00")'),
        (True, 'must be an amount in euros such as "1250.50", not true/false'),
        (None, "this field is required"),
    ],
)
def test_malformed_amounts(scenario, amount, message):
    scenario["themes"][0]["actions"][3]["funding"][0]["amount"] = amount

    assert problems(scenario) == [f"themes[0].actions[3].funding[0].amount: {message}"]


def test_unknown_format(scenario):
    scenario["format"] = "accord.contract/2"

    assert problems(scenario) == [
        'format: unknown format "accord.contract/2" (expected "accord.contract/1")'
    ]


def test_unknown_kind(scenario):
    scenario["kind"] = "CLSM"

    assert problems(scenario) == [
        'kind: unknown kind "CLSM" (expected one of CLS, CTG, CSF, OTHER)'
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["territory"].update(communes="22"),
            "territory.communes: must be a whole number, not a string",
        ),
        (
            lambda d: d["territory"].update(population=42000.5),
            'territory.population: must be a whole number, not "42000.5"',
        ),
        (lambda d: d.update(themes="T1, T2"), "themes: must be a list, not a string"),
        (lambda d: d.update(title=["Contrat"]), "title: must be a string, not a list"),
        (lambda d: d.update(period="2019-2022"), "period: must be an object, not a string"),
        (lambda d: d.pop("reference"), "reference: this field is required"),
        (
            lambda d: d.update(coordinators=[]),
            "coordinators: a contract needs at least one coordinator",
        ),
        (lambda d: d.update(reference="  "), "reference: must not be empty"),
        (
            lambda d: d["themes"][0]["actions"].__setitem__(0, "T1-A1"),
            "themes[0].actions[0]: must be an object, not a string",
        ),
        (
            lambda d: d["themes"][0]["actions"][0]["indicators"].append(3),
            "themes[0].actions[0].indicators[1]: must be a text or an object, not a number",
        ),
        (
            lambda d: d["signatories"][0].update(order=0),
            "signatories[0].order: must be at least 1",
        ),
        (
            lambda d: d["signatories"][0].update(mandate={"reference": 12, "date": "15/01/2019"}),
            "signatories[0].mandate.reference: must be a string, not a number",
        ),
        (
            lambda d: d["signatories"][0].update(kind="obligatoire"),
            'signatories[0].kind: unknown signatory kind "obligatoire" '
            "(expected one of mandatory, associated)",
        ),
        (
            lambda d: d["people"][0].update(email="président@"),
            'people[0].email: "président@" is not a valid e-mail address',
        ),
        (
            lambda d: d["people"][0].update(username="le président"),
            'people[0].username: "le président" is not a valid username '
            "(letters, digits and @ . + - _ only)",
        ),
        (
            lambda d: d["themes"][0]["actions"][0].update(code="T1-A1-" + "x" * 20),
            "themes[0].actions[0].code: is too long (26 characters, at most 20)",
        ),
    ],
)
def test_wrong_types_and_values(scenario, change, expected):
    change(scenario)

    assert expected in problems(scenario)


def test_a_mandate_is_checked(scenario):
    scenario["signatories"][2]["mandate"] = {"reference": "Arrêté 2019-12", "date": "15/01/2019"}

    assert problems(scenario) == [
        'signatories[2].mandate.date: must be a date written YYYY-MM-DD, not "15/01/2019"'
    ]


def test_a_broken_section_does_not_make_every_reference_to_it_unknown(scenario):
    scenario["working_groups"] = {"GT1": "..."}
    scenario["people"][4]["username"] = None  # coordination.cls, pilot of many actions

    assert problems(scenario) == [
        "people[4].username: this field is required",
        "working_groups: must be a list, not an object",
    ]


def test_existing_reference(scenario):
    ContractFactory(reference="CLS-TDC-2019")

    assert problems(scenario) == ['reference: contract "CLS-TDC-2019" already exists']


def test_an_existing_account_of_another_organisation(scenario):
    UserFactory(username="dg.ars", organisation=OrganisationFactory(code="AUTRE"))

    # Which organisation the account belongs to is not told: only that it is not this one.
    assert problems(scenario) == [
        'people[7].organisation: the username "dg.ars" is already taken by an account that does'
        ' not belong to "ARS-OCC"'
    ]


def test_several_problems_are_all_reported_at_once(scenario):
    scenario["format"] = "accord.contract/0"
    scenario["period"]["end"] = "2018-12-31"
    scenario["themes"][2]["actions"][4]["working_group"] = "GT11"
    scenario["steering_committee"]["quorum"] = 9
    scenario["signatories"][2]["represented_by"] = "dg.ars"

    error = refusal(scenario)

    assert error.errors == [
        'format: unknown format "accord.contract/0" (expected "accord.contract/1")',
        "period.end: the period ends before it starts",
        'themes[2].actions[4].working_group: unknown working group "GT11"',
        "steering_committee.quorum: the quorum (9) is above the committee's size (5)",
        'signatories[2].represented_by: "dg.ars" is not a member of organisation "CD82"',
    ]
    assert error.message == "The contract file has 5 problems; nothing was imported."
    assert error.extra == {"errors": error.errors}


def test_a_document_that_is_not_an_object(scenario):
    with override("en"):
        assert validate_contract_file([scenario]) == [
            "file: must be an object with the contract's fields, not a list"
        ]


def test_an_unknown_field_is_named_with_the_fields_expected_there(scenario):
    # A misspelt optional field used to be ignored, silently losing what it said.
    action = scenario["themes"][0]["actions"][1]
    action["workinggroup"] = action.pop("working_group")

    assert problems(scenario) == [
        "themes[0].actions[1].workinggroup: unknown field (expected one of code, title, "
        "objective, operational_objectives, description, target_public, place, schedule, "
        "pilot, working_group, partners, funding, indicators)",
        "themes[0].actions[1].working_group: an action needs a working group",
    ]


def test_a_schema_key_for_editors_is_accepted(scenario):
    scenario = {"$schema": "./contract.schema.json", **scenario}

    assert validate_contract_file(scenario) == []


def test_null_stands_for_an_absent_field(scenario):
    scenario["diagnosis"] = None
    scenario["signatories"][0].update(represented_by=None, order=None, mandate=None)

    contract = contract_import(document=scenario, actor=None)

    assert contract.diagnosis_author is None
    signatory = contract.signatories.get(organisation__code="CCTDC")
    assert (signatory.represented_by, signatory.order, signatory.mandate_reference) == (None, 1, "")


def test_an_email_may_be_left_empty(scenario):
    scenario["people"][0]["email"] = ""

    assert validate_contract_file(scenario) == []


def test_a_code_with_a_trailing_newline_is_refused(scenario):
    scenario["organisations"][0]["code"] = "CCTDC\n"

    assert problems(scenario)[0] == (
        'organisations[0].code: "CCTDC\n" is not a valid code (letters, digits, "-" and "_" only)'
    )


def test_a_misspelt_kind_is_not_also_told_as_no_mandatory_signatory(scenario):
    # The misspelt one may be the mandatory signatory: its own problem is enough.
    for signatory in scenario["signatories"]:
        signatory["kind"] = "associated"
    scenario["signatories"][0]["kind"] = "obligatoire"

    assert problems(scenario) == [
        'signatories[0].kind: unknown signatory kind "obligatoire" '
        "(expected one of mandatory, associated)"
    ]


def test_the_problems_read_in_french(scenario):
    scenario["kind"] = "CLSM"
    scenario["territory"]["communes"] = "22"
    del scenario["period"]["end"]
    scenario["people"][0]["mail"] = scenario["people"][0].pop("email")
    scenario["themes"][0]["actions"][3]["funding"][0]["amount"] = "12,50"
    scenario["working_groups"][3]["leads"] = []
    scenario["signatories"][1]["signer"] = "president.cctdc"

    with override("fr"), pytest.raises(InvalidContractFile) as info:
        contract_import(document=scenario, actor=None)

    assert info.value.errors == [
        'kind: type inconnu "CLSM" (valeurs attendues\u00a0: CLS, CTG, CSF, OTHER)',
        "territory.communes: doit être un nombre entier, et non une chaîne de caractères",
        "period.end: ce champ est obligatoire",
        "people[0].mail: champ inconnu (champs possibles\u00a0: username, civility, first_name, "
        "last_name, full_name, email, organisation, title)",
        "people[0].email: ce champ est obligatoire",
        "themes[0].actions[3].funding[0].amount: doit être un montant en euros tel que "
        '"1250.50", et non "12,50"',
        "working_groups[3].leads: un groupe de travail doit avoir au moins un animateur",
        'signatories[1].signer: "president.cctdc" n\u2019appartient pas à l\u2019organisme '
        '"ARS-OCC"',
    ]


# --- Files that cannot be read ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "filename", "expected"),
    [
        (
            b'{"format": "accord.contract/1"\n "reference": "CLS"}',
            "c.json",
            "line 2, column 2: a comma (,) is expected here",
        ),
        (b"format: accord.contract/1\nthemes: [T1\n", "c.yaml", "line 3, column 1: "),
        (b"format: [oops\n", "", "line 2, column 1: "),
        (b"just some words", "c.json", "line 1, column 1: "),
        (b'{"reference": "CLS\xe9"}', "c.json", "line 1, column 19: this byte is not UTF-8 text"),
        (b"  \n", "c.json", "file: the file is empty"),
        (b"[1, 2]", "c.json", "file: must be an object with the contract's fields, not a list"),
        (b"a: &x [1]\nb: *x\n", "c.yaml", "line 2, column 4: aliases (*name) are not accepted"),
        (b"[" * 100_000, "c.json", "file: the file is nested too deeply"),
        (b'{"quorum": ' + b"9" * 5000 + b"}", "c.json", "file: a value cannot be read"),
        (b"quorum: " + b"9" * 5000, "c.yaml", "file: a value cannot be read"),
    ],
)
def test_a_file_that_is_neither_json_nor_yaml(raw, filename, expected):
    before = counts()

    with override("en"), pytest.raises(InvalidContractFile) as info:
        parse_contract_file(raw, filename=filename)

    assert len(info.value.errors) == 1
    assert info.value.errors[0].startswith(expected)
    assert counts() == before


def test_an_oversized_file(scenario, settings):
    settings.ACCORD_IMPORT_MAX_BYTES = 1000
    raw = json.dumps(scenario).encode()

    with override("en"), pytest.raises(ContractFileTooLarge) as info:
        parse_contract_file(raw, filename="contrat.json")

    assert info.value.status_code == 413
    assert info.value.message == (
        f"The contract file is too large: {len(raw)} bytes, the limit is 1000 bytes."
    )
    assert not Contract.objects.exists()


def test_a_file_at_the_limit_is_read(scenario, settings):
    raw = json.dumps(scenario).encode()
    settings.ACCORD_IMPORT_MAX_BYTES = len(raw)

    assert parse_contract_file(raw)["reference"] == "CLS-TDC-2019"


# --- Failures half-way leave nothing behind -----------------------------------------------


def test_a_failure_in_the_middle_rolls_everything_back(scenario, monkeypatch):
    def broken_history(unit, entries):
        raise RuntimeError("disk full")

    # Every history entry goes through it: the import's, recorded once all is created.
    monkeypatch.setattr(UnitOfWork, "record_many", broken_history)
    before = counts()

    with pytest.raises(RuntimeError, match="disk full"):
        contract_import(document=scenario, actor=None)

    assert counts() == before
    assert not FundingLine.objects.exists()
    assert not Signatory.objects.exists()


def test_a_concurrent_import_of_the_same_reference_is_refused_cleanly(scenario, monkeypatch):
    # Validation ran before the other import committed: the unique index has the last word.
    ContractFactory(reference="CLS-TDC-2019")
    monkeypatch.setattr(imports, "validate_contract_file", lambda document: [])
    before = counts()

    with override("en"), pytest.raises(InvalidContractFile) as info:
        contract_import(document=scenario, actor=None)

    assert info.value.errors == ['reference: contract "CLS-TDC-2019" already exists']
    assert counts() == before


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a" 1}', "ligne 1, colonne 6\u00a0: deux-points (:) attendus ici"),
        (b'{"a": 1 "b": 2}', "ligne 1, colonne 9\u00a0: une virgule (,) est attendue ici"),
        (
            b"{a: 1}",
            "ligne 1, colonne 2\u00a0: un nom de champ entre guillemets doubles est attendu ici",
        ),
        (b"[1,]", "ligne 1, colonne 4\u00a0: une valeur est attendue ici"),
        (b"{} x", "ligne 1, colonne 4\u00a0: du texte suit la fin du document"),
    ],
)
def test_a_json_mistake_is_told_in_french(raw, expected):
    with override("fr"), pytest.raises(InvalidContractFile) as refused:
        parse_contract_file(raw, filename="contrat.json")
    assert refused.value.message == "Le fichier de contrat n\u2019est pas un JSON valide."
    assert refused.value.errors == [expected]

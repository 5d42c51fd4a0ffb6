"""Writing an action sheet: its pilot or a coordinator, while it is written or revised; every
save a version in the history; a save on an older version refused, never a silent overwrite."""

import datetime

import pytest
from django.urls import reverse
from django.utils import translation

from tests.factories import ActionFactory, OrganisationFactory, UserFactory
from tests.flows import decide, launch, open_tasks
from workflows import services
from workflows.errors import ApplicationError, Conflict, NotAllowed
from workflows.models import (
    ActionStatus,
    ActionVersion,
    HistoryEntry,
    HistoryEvent,
    Indicator,
    TaskKind,
    content_sha256,
    sheet_changes,
    sheet_content,
)
from workflows.selectors import history_verify
from workflows.services.sheets import (
    INDICATOR_PARTS,
    FundingEntry,
    IndicatorEntry,
    Milestone,
    SheetEdit,
    current_version,
)

pytestmark = pytest.mark.django_db

EDIT = SheetEdit(
    title="Maison de santé pluriprofessionnelle de Caussade",
    objective="Installer six médecins d'ici 2026.",
    partners=["ARS"],
    funding=[FundingEntry("ARS", "12 500,50"), FundingEntry("CD82", "40000")],
    indicators=[IndicatorEntry("Médecins installés"), IndicatorEntry("Patients sans médecin")],
)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def action(contract):
    contract.organisations.add(OrganisationFactory(code="ARS"), OrganisationFactory(code="CD82"))
    return ActionFactory(contract=contract)


@pytest.fixture
def revising(action, coordinator):
    """The action sent back to its pilot by a lead."""
    launch(action.contract, coordinator)
    review = open_tasks(action.contract, TaskKind.REVIEW)[0]
    decide(review, "request_changes", comment="Chiffrer le budget.")
    action.refresh_from_db()
    assert action.status == ActionStatus.CHANGES_REQUESTED
    return action


def test_the_pilot_saves_a_revised_sheet_as_a_new_version_in_the_history(revising):
    before = current_version(revising)

    saved = services.action_sheet_save(
        action=revising, actor=revising.pilot, base_version=before.number, edit=EDIT
    )

    revising.refresh_from_db()
    assert (saved.number, saved.author) == (before.number + 1, revising.pilot)
    assert saved.content == sheet_content(revising)
    assert saved.content["funding"] == [
        {"funder": "ARS", "amount": "12500.50", "year": None, "status": None},
        {"funder": "CD82", "amount": "40000.00", "year": None, "status": None},
    ]
    assert [item["name"] for item in saved.content["indicators"]] == [
        "Médecins installés",
        "Patients sans médecin",
    ]
    assert saved.sha256 == content_sha256(saved.content)
    entry = HistoryEntry.objects.get(event=HistoryEvent.ACTION_SHEET_SAVED)
    assert (entry.actor, entry.action_code) == (revising.pilot, revising.code)
    assert entry.data == {"version": saved.number, "sha256": saved.sha256}
    assert history_verify(revising.contract).valid


def test_a_draft_sheet_may_be_edited_by_a_coordinator(action, coordinator):
    version = services.action_sheet_save(
        action=action, actor=coordinator, base_version=1, edit=EDIT
    )
    assert version.number == 2


def test_only_the_pilot_or_a_coordinator_may_edit(revising):
    lead = revising.working_group.leads.first()
    for someone in (lead, UserFactory()):
        with pytest.raises(NotAllowed, match="pilot or a coordinator"):
            services.action_sheet_save(action=revising, actor=someone, base_version=1, edit=EDIT)
    assert not revising.versions.filter(number__gt=1).exists()


def test_a_sheet_under_review_cannot_change(action, coordinator):
    launch(action.contract, coordinator)
    with pytest.raises(Conflict, match="while the action is “In review”") as refused:
        services.action_sheet_save(action=action, actor=action.pilot, base_version=1, edit=EDIT)
    assert refused.value.status_code == 409
    assert not HistoryEntry.objects.filter(event=HistoryEvent.ACTION_SHEET_SAVED).exists()


def test_a_save_on_an_older_version_is_refused_not_merged(revising, coordinator):
    """Two people opened version 1; the second to save learns who saved first."""
    services.action_sheet_save(action=revising, actor=coordinator, base_version=1, edit=EDIT)
    late = SheetEdit(title="Another title")
    with pytest.raises(Conflict, match="saved version 2 of this sheet meanwhile") as refused:
        services.action_sheet_save(action=revising, actor=revising.pilot, base_version=1, edit=late)
    assert refused.value.extra == {"version": 2}
    revising.refresh_from_db()
    assert revising.title == EDIT.title
    assert revising.versions.count() == 2


def test_a_wrong_sheet_names_every_problem_and_writes_nothing(revising):
    wrong = SheetEdit(
        title=" ",
        partners=["NOPE"],
        funding=[
            FundingEntry("ARS", "-5"),
            FundingEntry("ARS", "12,345"),
            FundingEntry("ARS", "1e20"),  # beyond the column, and not written as an amount
            FundingEntry("ARS", "1000000000000"),  # beyond the column
        ],
        indicators=[IndicatorEntry("")],
    )
    with pytest.raises(ApplicationError) as refused:
        services.action_sheet_save(
            action=revising, actor=revising.pilot, base_version=1, edit=wrong
        )
    assert refused.value.status_code == 400
    assert refused.value.extra["errors"] == [
        "The title is required.",
        "Not a partner organisation of this contract: NOPE.",
        "“-5” is not an amount in euros (at most two decimals, not negative).",
        "“12,345” is not an amount in euros (at most two decimals, not negative).",
        "“1e20” is not an amount in euros (at most two decimals, not negative).",
        "“1000000000000” is not an amount in euros (at most two decimals, not negative).",
        "An indicator needs a label.",
    ]
    assert not revising.versions.filter(number__gt=1).exists()
    assert not revising.funding_lines.exists()


def test_an_imported_sheet_is_version_1(scenario):
    contract = services.contract_import(document=scenario, actor=None)
    versions = ActionVersion.objects.filter(action__contract=contract)
    assert versions.count() == contract.actions.count()
    assert set(versions.values_list("number", flat=True)) == {1}
    first = versions.select_related("action").first()
    assert first.content == sheet_content(first.action)
    assert first.author is None


# --- The page -----------------------------------------------------------------------------


def test_the_pilot_edits_the_sheet_from_the_revision_task(client, revising):
    (revision,) = open_tasks(revising.contract, TaskKind.REVISION)
    client.force_login(revising.pilot)
    edit_url = reverse("workflows:sheet_edit", args=[revising.pk])
    assert edit_url in client.get(reverse("workflows:task_detail", args=[revision.pk])).text

    page = client.get(edit_url)
    assert page.status_code == 200
    response = client.post(
        edit_url,
        {
            "base_version": 1,
            "title": "Maison de santé de Caussade",
            "objective": "Six médecins.",
            "partners": ["ARS"],
            "funding-TOTAL_FORMS": 2,
            "funding-INITIAL_FORMS": 0,
            "funding-0-funder": "CD82",
            "funding-0-amount": "40 000",
            "funding-1-funder": "",
            "funding-1-amount": "",
            "indicators-TOTAL_FORMS": 1,
            "indicators-INITIAL_FORMS": 0,
            "indicators-0-label": "Médecins installés",
            "milestones-TOTAL_FORMS": 1,
            "milestones-INITIAL_FORMS": 0,
            "milestones-0-date": "2021-06-30",
            "milestones-0-label": "Ouverture",
        },
    )

    assert response.status_code == 302
    assert response.url == reverse("workflows:task_detail", args=[revision.pk])
    version = current_version(revising)
    assert version.number == 2
    assert version.content["funding"] == [
        {"funder": "CD82", "amount": "40000.00", "year": None, "status": None}
    ]
    assert version.content["partners"] == ["ARS"]
    assert version.content["schedule"]["milestones"] == [
        {"date": "2021-06-30", "label": "Ouverture"}
    ]


def test_what_the_page_shows_and_is_left_alone_is_kept(client, revising):
    """A browser posts back every row it showed: unchanged ones stay, removed ones go."""
    services.action_sheet_save(action=revising, actor=revising.pilot, base_version=1, edit=EDIT)
    client.force_login(revising.pilot)
    url = reverse("workflows:sheet_edit", args=[revising.pk])
    form = client.get(url).context
    posted = {
        "base_version": 2,
        "title": "Titre changé",
        "objective": EDIT.objective,
        "partners": EDIT.partners,
        **{
            name: value
            for formset in (form["milestones"], form["funding"], form["indicators"])
            for name, value in _as_posted(formset).items()
        },
        "indicators-1-DELETE": "on",  # the second indicator removed
    }

    assert client.post(url, posted).status_code == 302

    content = current_version(revising).content
    assert content["title"] == "Titre changé"
    assert [(line["funder"], line["amount"]) for line in content["funding"]] == [
        ("ARS", "12500.50"),
        ("CD82", "40000.00"),
    ]
    assert [item["name"] for item in content["indicators"]] == ["Médecins installés"]


def _as_posted(formset) -> dict[str, str]:
    """What a browser sends back for a formset as the page showed it."""
    data = {
        f"{formset.prefix}-TOTAL_FORMS": str(formset.total_form_count()),
        f"{formset.prefix}-INITIAL_FORMS": str(formset.initial_form_count()),
    }
    for form in formset.forms:
        for name, field in form.fields.items():
            if name == "DELETE":
                continue
            value = form.initial.get(name, field.initial)
            data[form.add_prefix(name)] = "" if value is None else str(value)
    return data


def test_the_page_refuses_an_older_version_and_keeps_what_was_typed(client, revising, coordinator):
    services.action_sheet_save(action=revising, actor=coordinator, base_version=1, edit=EDIT)
    client.force_login(revising.pilot)
    response = client.post(
        reverse("workflows:sheet_edit", args=[revising.pk]),
        {
            "base_version": 1,
            "title": "Typed on version 1",
            "funding-TOTAL_FORMS": 0,
            "funding-INITIAL_FORMS": 0,
            "indicators-TOTAL_FORMS": 0,
            "indicators-INITIAL_FORMS": 0,
            "milestones-TOTAL_FORMS": 0,
            "milestones-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 409  # said in French, as the pages are
    assert "a enregistré entre-temps la version 2 de cette fiche" in response.text
    assert 'value="Typed on version 1"' in response.text


def test_the_page_is_read_only_under_review_and_closed_to_others(client, action, coordinator):
    launch(action.contract, coordinator)
    client.force_login(action.pilot)
    page = client.get(reverse("workflows:sheet_edit", args=[action.pk]))
    assert page.status_code == 409
    assert "La fiche ne peut pas changer tant que l\u2019action est" in page.text
    assert '<form method="post"' not in page.text
    client.force_login(action.working_group.leads.first())
    assert client.get(reverse("workflows:sheet_edit", args=[action.pk])).status_code == 403
    client.force_login(UserFactory())
    assert client.get(reverse("workflows:sheet_edit", args=[action.pk])).status_code == 404


# --- The API ------------------------------------------------------------------------------


def sheet_url(action) -> str:
    return f"/api/v1/actions/{action.pk}/sheet/"


def test_the_api_reads_and_saves_the_sheet(api_client, revising):
    api_client.force_authenticate(revising.pilot)
    current = api_client.get(sheet_url(revising)).json()
    assert (current["version"], current["editable"], current["status"]) == (
        1,
        True,
        "changes_requested",
    )

    body = {
        **current["sheet"],
        "version": 1,
        "title": "Nouveau titre",
        "funding": [{"funder": "ARS", "amount": "1000.00"}],
    }
    saved = api_client.put(sheet_url(revising), body, format="json")

    assert saved.status_code == 200
    assert saved.json()["version"] == 2
    assert saved.json()["author"] == revising.pilot.username
    assert saved.json()["sheet"]["title"] == "Nouveau titre"
    stale = api_client.put(sheet_url(revising), body, format="json")
    assert stale.status_code == 409
    assert "a enregistré entre-temps la version 2" in stale.json()["detail"]
    versions = api_client.get(f"/api/v1/actions/{revising.pk}/versions/").json()
    assert [(v["version"], v["author"]) for v in versions] == [
        (1, None),
        (2, revising.pilot.username),
    ]


def test_the_api_refuses_others_wrong_states_and_bad_sheets(api_client, action, coordinator):
    launch(action.contract, coordinator)
    lead = action.working_group.leads.first()
    body = {"version": 1, "title": "X"}
    api_client.force_authenticate(lead)
    assert api_client.get(sheet_url(action)).json()["editable"] is False
    assert api_client.put(sheet_url(action), body, format="json").status_code == 403
    api_client.force_authenticate(action.pilot)
    assert api_client.put(sheet_url(action), body, format="json").status_code == 409
    api_client.force_authenticate(UserFactory())
    assert api_client.get(sheet_url(action)).status_code == 404
    api_client.force_authenticate(action.pilot)
    bad = api_client.put(sheet_url(action), {"title": "X"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"][0].startswith("version: ")


# --- What changed since the lead's review -------------------------------------------------


def test_the_lead_sees_what_changed_since_the_version_they_reviewed(client, api_client, action):
    coordinator = action.contract.coordinators.get()
    launch(action.contract, coordinator)
    lead = action.working_group.leads.first()
    (review,) = [t for t in open_tasks(action.contract, TaskKind.REVIEW) if t.owner == lead]
    decide(review, "request_changes", comment="Chiffrer le budget.")
    assert review_of(review).data["sheet_version"] == 1  # what the lead decided on
    services.action_sheet_save(action=action, actor=action.pilot, base_version=1, edit=EDIT)
    (revision,) = open_tasks(action.contract, TaskKind.REVISION)
    decide(revision, "resubmit")
    (again,) = [t for t in open_tasks(action.contract, TaskKind.REVIEW) if t.owner == lead]

    client.force_login(lead)
    page = client.get(reverse("workflows:task_detail", args=[again.pk])).text

    assert "Ce qui a changé depuis la version 1" in page
    assert EDIT.title in page
    assert "Ajouté\u00a0: CD82 — 40000.00 €" in page
    api_client.force_authenticate(lead)
    diff = api_client.get(f"/api/v1/actions/{action.pk}/diff/").json()
    assert (diff["since"], diff["now"]) == (1, 2)
    by_field = {change["field"]: change for change in diff["changes"]}
    assert set(by_field) == {"title", "objective", "partners", "funding", "indicators"}
    assert by_field["title"]["after"] == EDIT.title
    assert by_field["funding"]["added"] == ["ARS — 12500.50 €", "CD82 — 40000.00 €"]
    assert by_field["indicators"]["added"] == ["Médecins installés", "Patients sans médecin"]
    assert by_field["indicators"]["removed"] == []
    explicit = api_client.get(f"/api/v1/actions/{action.pk}/diff/?from=2&to=2").json()
    assert explicit["changes"] == []
    assert api_client.get(f"/api/v1/actions/{action.pk}/diff/?from=9").status_code == 400


def test_a_first_review_shows_no_changes(client, action, coordinator):
    launch(action.contract, coordinator)
    lead = action.working_group.leads.first()
    (review,) = [t for t in open_tasks(action.contract, TaskKind.REVIEW) if t.owner == lead]
    client.force_login(lead)
    page = client.get(reverse("workflows:task_detail", args=[review.pk])).text
    assert "Ce qui a changé" not in page


def review_of(task):
    task.refresh_from_db()
    return task


def test_the_whole_sheet_of_life_md_is_written_kept_and_compared(revising):
    """Operational objectives, description, public, place, schedule and milestones, funding
    by year and status, indicators with their measure."""
    full = SheetEdit(
        title="Maison de santé",
        operational_objectives=["Recruter deux médecins", "  ", "Ouvrir le site"],
        description="Un lieu unique de soins de premier recours.",
        target_public="Habitants sans médecin traitant",
        place="Caussade",
        starts_on=datetime.date(2020, 1, 1),
        ends_on=datetime.date(2022, 12, 31),
        milestones=[
            Milestone(datetime.date(2021, 6, 30), "Ouverture"),
            Milestone(datetime.date(2020, 9, 1), "Permis de construire"),
        ],
        partners=["ARS"],
        funding=[FundingEntry("ARS", "10000", 2020, "secured")],
        indicators=[IndicatorEntry("Médecins installés", "médecins", "0", "2", "ARS")],
    )
    version = services.action_sheet_save(
        action=revising, actor=revising.pilot, base_version=1, edit=full
    )

    content = version.content
    assert content["operational_objectives"] == ["Recruter deux médecins", "Ouvrir le site"]
    assert content["schedule"] == {
        "start": "2020-01-01",
        "end": "2022-12-31",
        "milestones": [
            {"date": "2020-09-01", "label": "Permis de construire"},
            {"date": "2021-06-30", "label": "Ouverture"},
        ],
    }
    assert content["funding"] == [
        {"funder": "ARS", "amount": "10000.00", "year": 2020, "status": "secured"}
    ]
    assert content["indicators"] == [
        {
            "name": "Médecins installés",
            "unit": "médecins",
            "baseline": "0",
            "target": "2",
            "source": "ARS",
        }
    ]
    with translation.override("fr"):
        changes = {
            change["field"]: change
            for change in sheet_changes(current_version_content(revising, 1), content)
        }
    assert changes["place"] == {
        "field": "place",
        "label": "Lieu",
        "before": "",
        "after": "Caussade",
    }
    assert changes["funding"]["added"] == ["ARS — 10000.00 € — 2020 — Acquis"]


def test_a_sheet_that_does_not_hold_together_is_refused(revising):
    wrong = SheetEdit(
        title="X",
        starts_on=datetime.date(2022, 1, 1),
        ends_on=datetime.date(2021, 1, 1),
        milestones=[Milestone(datetime.date(2021, 1, 1), " ")],
        funding=[FundingEntry("ARS", "1", 1850, "promised")],
        indicators=[IndicatorEntry("Taux", unit="u" * 51)],
    )
    with pytest.raises(ApplicationError) as refused:
        services.action_sheet_save(
            action=revising, actor=revising.pilot, base_version=1, edit=wrong
        )
    assert refused.value.extra["errors"] == [
        "“1850” is not a year.",
        "A funding line is secured or requested, not “promised”.",
        "An indicator's unit is too long (50 characters at most).",
        "The action ends before it starts.",
        "A milestone needs a label.",
    ]


def test_the_indicator_limits_are_the_columns():
    for part, (_word, limit) in INDICATOR_PARTS.items():
        column = "label" if part == "name" else part
        assert Indicator._meta.get_field(column).max_length == limit


def current_version_content(action, number):
    return action.versions.get(number=number).content

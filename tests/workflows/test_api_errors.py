"""Every API error has the same shape: {"detail": "...", "errors": [...]}."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions

from workflows.api.errors import exception_handler
from workflows.errors import Conflict, InvalidContractFile

pytestmark = pytest.mark.django_db


def test_a_domain_conflict_is_a_409_with_its_message():
    response = exception_handler(Conflict("Déjà fait."), {})

    assert (response.status_code, response.data) == (409, {"detail": "Déjà fait.", "errors": []})


def test_an_invalid_contract_file_lists_every_problem():
    problems = ["themes[0].code: must not be empty", "coordinators: this field is required"]

    response = exception_handler(InvalidContractFile("2 problèmes.", problems), {})

    assert (response.status_code, response.data) == (
        400,
        {"detail": "2 problèmes.", "errors": problems},
    )


def test_nested_input_errors_are_flattened_with_their_place():
    exc = exceptions.ValidationError(
        {"reason": ["Requis."], "actions": [{}, {"code": ["Inconnu."]}], "non_field_errors": ["X"]}
    )

    response = exception_handler(exc, {})

    assert response.status_code == 400
    assert response.data == {
        "detail": "reason: Requis.",
        "errors": ["reason: Requis.", "actions[1].code: Inconnu.", "X"],
    }


def test_a_model_validation_error_is_bad_input_not_a_server_error():
    exc = DjangoValidationError({"period_end": ["Avant le début."], "__all__": ["Incohérent."]})

    response = exception_handler(exc, {})

    assert response.status_code == 400
    assert response.data["errors"] == ["period_end: Avant le début.", "Incohérent."]


def test_an_unexpected_exception_is_left_to_django_as_a_bug():
    assert exception_handler(KeyError("boom"), {}) is None

"""What customers read: their own titles, field names, choices and validation messages, in English and French."""

from __future__ import annotations

import pytest

from api import wording
from router.language.definition import InputStep
from router.language.labels import label, load_catalogues
from router.language.registry import Registry

WORDING = wording.load()
DEFINITIONS = list(Registry.from_directory())
INPUTS = [(d, s) for d in DEFINITIONS for s in d.steps if isinstance(s, InputStep)]


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_every_sample_has_a_customer_title_and_every_form_field_and_choice_a_name(locale: str) -> None:
    """No sample falls back to the staff title or to a field's schema name (no "Line1") in either language."""
    for definition in DEFINITIONS:
        assert definition.id in WORDING[locale]["titles"], definition.id
    for definition, step in INPUTS:
        for field in wording.fields(WORDING, locale, definition.id, step.input_schema):
            named = WORDING[locale]["fields"]
            assert f"{definition.id}.{field['name']}" in named or field["name"] in named, (definition.id, field)
            assert all(c["value"] in WORDING[locale]["choices"] for c in field["choices"]), field


def test_every_labelled_step_of_every_sample_is_translated_into_french() -> None:
    french = load_catalogues()["fr"]
    for definition in DEFINITIONS:
        for step in definition.steps:
            if step.label:
                assert f"{definition.id}.{step.name}" in french, (definition.id, step.name)
                assert label(definition, step.name, "fr-BE", {"fr": french}) != step.label


def test_both_languages_have_the_same_words() -> None:
    """A key in one catalogue and not the other would show English to a French customer, or nothing."""
    english, french = WORDING["en"], WORDING["fr"]
    assert english.keys() == french.keys()
    for section in english:
        assert set(english[section]) == set(french[section]), section


def test_a_french_customer_reads_french_field_names_and_messages_that_never_echo_the_input() -> None:
    kyc = Registry.from_directory().get("kyc-uplift")
    step = kyc.step("request-details")
    assert isinstance(step, InputStep)
    fields = {f["name"]: f for f in wording.fields(WORDING, "fr", kyc.id, step.input_schema)}
    assert fields["address.line1"]["label"] == "Numéro et rue" and fields["address.line1"]["group"] == "Votre adresse"
    assert {c["label"] for c in fields["documents.document_type"]["choices"]} >= {"Passeport", "Permis de conduire"}
    typed = {"full_name": "K", "address": {"line1": "1 rue X", "postcode": "75001", "country": "france"}}
    wrong = wording.problems(WORDING, "fr", step.input_schema, typed)
    assert wrong == {
        "full_name": "C'est trop court",
        "date_of_birth": "Ce champ est obligatoire",
        "documents": "Ce champ est obligatoire",
        "address.country": "Indiquez le code pays à deux lettres, par exemple FR ou BE",
    }
    assert not any("france" in message or message == "K" for message in wrong.values())
    assert wording.problems(WORDING, "fr-CA", step.input_schema, typed) == wrong  # a region speaks its language


def test_a_field_no_catalogue_names_still_reads_as_words() -> None:
    assert wording.words("line1") == "Line 1" and wording.words("payslip_reference") == "Payslip reference"

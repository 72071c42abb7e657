"""Identity without personal data: the patientRef is a keyed hash of the record number, and
the sender's names become identifiers an event may store."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.hl7.identity import PatientRefs, as_identifier, message_id_of, source_system_of


def test_the_same_patient_gets_the_same_ref_and_another_key_another_ref() -> None:
    refs = PatientRefs("k" * 40)

    assert refs.ref_for("MRN1", "RFH") == refs.ref_for("MRN1", "RFH")
    assert refs.ref_for("MRN1", "RFH") != refs.ref_for("MRN1", "UCLH")
    assert refs.ref_for("MRN1", "RFH") != refs.ref_for("MRN2", "RFH")
    assert PatientRefs("j" * 40).ref_for("MRN1", "RFH") != refs.ref_for("MRN1", "RFH")


def test_authority_and_number_cannot_be_shifted_into_one_another() -> None:
    refs = PatientRefs("k" * 40)

    assert refs.ref_for("23", "RFH1") != refs.ref_for("123", "RFH")


@given(st.text(min_size=1, max_size=300))
def test_any_sender_name_becomes_an_identifier(value: str) -> None:
    identifier = as_identifier(value)

    assert 1 <= len(identifier) <= 100
    assert identifier[0].isascii() and identifier[0].isalnum()
    assert all(c.isascii() and (c.isalnum() or c in "._:/@-") for c in identifier)
    assert as_identifier(value) == identifier  # a resend maps to the same one


def test_names_that_are_identifiers_are_kept_as_they_are() -> None:
    assert source_system_of("EPIC", "UCLH") == "EPIC/UCLH"
    assert source_system_of("EPIC", None) == "EPIC"
    assert source_system_of(None, None) == "unknown"
    assert message_id_of("MSG00001") == "MSG00001"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("EPIC ADT", None), ("EPIC_ADT", None)),  # a space is not "_"
        (("A", "B/C"), ("A/B", "C")),  # a "/" does not shift the split
        ((None, "RFH"), ("RFH", None)),  # a facility alone is not an application
    ],
)
def test_two_senders_never_share_a_source_system(
    one: tuple[str | None, str | None], other: tuple[str | None, str | None]
) -> None:
    # It scopes MSH-10's idempotency: a shared one would refuse (or swallow) a message.
    assert source_system_of(*one) != source_system_of(*other)
    assert source_system_of(*one) == source_system_of(*one)


def test_control_ids_that_are_not_identifiers_become_distinct_digests() -> None:
    first, second = message_id_of("a b"), message_id_of("a  b")

    assert first.startswith("sha256:") and first != second

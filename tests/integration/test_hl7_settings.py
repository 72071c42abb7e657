"""The HL7 intake settings: defaults, parsing, refusals naming the variable, and the
patientRef key (generated once on SQLite, only when HL7 needs it; required on PostgreSQL)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from adapters.composition import hl7_processor
from adapters.memory import MEMORY_ENV
from adapters.settings import PATIENT_REF_SECRET_FILE, Settings, SettingsError
from application.service import PatientServices

PG_URL = "postgresql://app:secret@db.example:5432/patients"
PG = {"DATABASE_URL": PG_URL, "JWT_SECRET": "j" * 40}


def test_defaults_take_hl7_from_anyone_in_production_and_run_no_listener(tmp_path: Path) -> None:
    settings = Settings.from_env({"VAR_DIR": str(tmp_path)})

    assert settings.mllp_port is None and settings.mllp_host == "127.0.0.1"
    assert not settings.mllp_tls and settings.mllp_tls_client_ca_file is None
    assert settings.hl7_allowed_senders == () and settings.hl7_processing_ids == ("P",)
    assert settings.mllp_idle_timeout_seconds == 300
    assert settings.patient_ref_secret is None


def test_the_variables_are_read_and_lists_split_on_commas(tmp_path: Path) -> None:
    for name in ("cert.pem", "key.pem", "ca.pem"):
        (tmp_path / name).write_text("-")
    settings = Settings.from_env({
        "VAR_DIR": str(tmp_path), "MLLP_HOST": "0.0.0.0", "MLLP_PORT": "2575",
        "MLLP_TLS_CERT_FILE": str(tmp_path / "cert.pem"),
        "MLLP_TLS_KEY_FILE": str(tmp_path / "key.pem"),
        "MLLP_TLS_CLIENT_CA_FILE": str(tmp_path / "ca.pem"),
        "MLLP_IDLE_TIMEOUT_SECONDS": "60",
        "HL7_ALLOWED_SENDERS": " EPIC , LAB^GOOD HEALTH HOSPITAL,",
        "HL7_PROCESSING_IDS": "p,T", "PATIENT_REF_SECRET": "r" * 40,
    })  # fmt: skip

    assert (settings.mllp_host, settings.mllp_port) == ("0.0.0.0", 2575)
    assert settings.mllp_tls and settings.mllp_tls_client_ca_file == tmp_path / "ca.pem"
    assert settings.mllp_idle_timeout_seconds == 60
    assert settings.hl7_allowed_senders == ("EPIC", "LAB^GOOD HEALTH HOSPITAL")
    assert settings.hl7_processing_ids == ("P", "T")
    assert settings.resolve_patient_ref_secret() == "r" * 40
    assert "r" * 40 not in repr(settings)


@pytest.mark.parametrize(
    ("name", "env"),
    [
        ("MLLP_PORT", {"MLLP_PORT": "0"}),
        ("MLLP_PORT", {"MLLP_PORT": "70000"}),
        ("MLLP_PORT", {"MLLP_PORT": "twenty"}),
        ("MLLP_PORT", {"MLLP_PORT": "8000"}),  # the HTTP port
        ("MLLP_TLS_CERT_FILE", {"MLLP_TLS_CERT_FILE": "/nonexistent/cert.pem"}),
        ("MLLP_TLS_CERT_FILE", {"MLLP_TLS_CERT_FILE": "{tmp}/cert.pem"}),  # without a key
        ("MLLP_TLS_KEY_FILE", {"MLLP_TLS_KEY_FILE": "/nonexistent/key.pem"}),
        ("MLLP_TLS_CLIENT_CA_FILE", {"MLLP_TLS_CLIENT_CA_FILE": "{tmp}/cert.pem"}),
        ("MLLP_IDLE_TIMEOUT_SECONDS", {"MLLP_IDLE_TIMEOUT_SECONDS": "0"}),
        ("HL7_ALLOWED_SENDERS", {"HL7_ALLOWED_SENDERS": ","}),
        ("HL7_ALLOWED_SENDERS", {"HL7_ALLOWED_SENDERS": "A^B^C"}),
        ("HL7_ALLOWED_SENDERS", {"HL7_ALLOWED_SENDERS": "EPIC\x07"}),
        ("HL7_PROCESSING_IDS", {"HL7_PROCESSING_IDS": "P,X"}),
        ("PATIENT_REF_SECRET", {"PATIENT_REF_SECRET": "short"}),
    ],
)
def test_an_invalid_value_is_refused_naming_the_variable(
    tmp_path: Path, name: str, env: dict[str, str]
) -> None:
    (tmp_path / "cert.pem").write_text("-")
    values = {k: v.replace("{tmp}", str(tmp_path)) for k, v in env.items()}
    with pytest.raises(SettingsError, match=f"^{name}: "):
        Settings.from_env({"VAR_DIR": str(tmp_path), **values})


def test_on_sqlite_the_key_is_generated_once_when_hl7_first_needs_it(tmp_path: Path) -> None:
    settings = Settings.from_env({"VAR_DIR": str(tmp_path)})
    key_file = tmp_path / PATIENT_REF_SECRET_FILE
    assert not key_file.exists()  # reading the settings writes nothing for HL7

    first = settings.resolve_patient_ref_secret()
    again = Settings.from_env({"VAR_DIR": str(tmp_path)}).resolve_patient_ref_secret()

    assert first == again == key_file.read_text().strip() and len(first) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first != settings.jwt_secret


def test_on_postgresql_hl7_intake_without_the_key_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({"VAR_DIR": str(tmp_path), **PG})  # other uses are fine
    services = PatientServices(env=dict(MEMORY_ENV))
    try:
        with pytest.raises(SettingsError, match="^PATIENT_REF_SECRET: must be set"):
            hl7_processor(settings, services)
    finally:
        services.close()
    assert not (tmp_path / PATIENT_REF_SECRET_FILE).exists()  # never a silent random key
    keyed = Settings.from_env({"VAR_DIR": str(tmp_path), **PG, "PATIENT_REF_SECRET": "k" * 40})
    assert keyed.resolve_patient_ref_secret() == "k" * 40


def test_processors_built_from_the_same_settings_derive_the_same_refs(tmp_path: Path) -> None:
    settings = Settings.from_env({"VAR_DIR": str(tmp_path), "HL7_ALLOWED_SENDERS": "EPIC"})
    services = PatientServices(env=dict(MEMORY_ENV))
    try:
        one, two = hl7_processor(settings, services), hl7_processor(settings, services)
    finally:
        services.close()

    refs = [p.settings.patient_refs.ref_for("MRN-1", "UCLH") for p in (one, two)]
    assert refs[0] == refs[1] and refs[0].startswith("mrn-") and "MRN-1" not in refs[0]
    assert one.settings.allowed_senders == ("EPIC",)
    assert one.settings.processing_ids == ("P",)

"""The checkpoint signing key on disk: generated once under VAR_DIR on SQLite (0600, reused,
one key however many processes race for it), required on PostgreSQL, and a key file that is
not an unencrypted Ed25519 private key refused with a message naming the setting."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from adapters.audit_signing import SIGNING_KEY_FILE, raw_public_key, signing_key
from adapters.settings import Settings, SettingsError


def raw(settings: Settings) -> bytes:
    return raw_public_key(signing_key(settings).public_key())


def test_on_sqlite_the_key_is_generated_once_under_var_dir_with_mode_0600(
    settings: Settings,
) -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: raw(settings), range(16)))

    path = settings.var_dir / SIGNING_KEY_FILE
    assert len(keys) == 1
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in settings.var_dir.iterdir()] == [SIGNING_KEY_FILE]  # no temp left
    assert raw(settings) == keys.pop()


def test_the_setting_names_the_key_on_either_store(settings: Settings, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "audit.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    postgres = replace(settings, database_url="postgresql://u@127.0.0.1:1/db")

    for configured in (settings, postgres):
        assert raw(replace(configured, audit_signing_key_file=path)) == raw_public_key(
            key.public_key()
        )
    with pytest.raises(SettingsError, match="AUDIT_SIGNING_KEY_FILE: must be set"):
        signing_key(postgres)
    assert not (settings.var_dir / SIGNING_KEY_FILE).exists()


@pytest.mark.parametrize("kind", ["encrypted", "x25519", "garbage"])
def test_a_key_file_that_is_not_an_unencrypted_ed25519_key_is_refused(
    settings: Settings, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "bad.pem"
    if kind == "encrypted":
        data = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    elif kind == "x25519":
        data = X25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    else:
        data = os.urandom(64)
    path.write_bytes(data)

    with pytest.raises(SettingsError, match="AUDIT_SIGNING_KEY_FILE") as caught:
        signing_key(replace(settings, audit_signing_key_file=path))
    assert "secret" not in str(caught.value)


def test_a_key_setting_naming_no_file_stops_at_start(tmp_path: Path) -> None:
    environ = {"JWT_SECRET": "s" * 40, "VAR_DIR": str(tmp_path)}

    with pytest.raises(SettingsError, match="AUDIT_SIGNING_KEY_FILE: .* is not a readable file"):
        Settings.from_env({**environ, "AUDIT_SIGNING_KEY_FILE": str(tmp_path / "none.pem")})
    assert Settings.from_env(environ).audit_signing_key_file is None

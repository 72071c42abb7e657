"""The MLLP listener as ``serve`` and ``mllp`` run it: built from the settings, serving in a
thread of its own, stopped gracefully."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from adapters.settings import Settings, SettingsError

if TYPE_CHECKING:
    from adapters.hl7.listener_thread import ListenerThread
    from application.service import PatientServices


class ListenerNotStarted(Exception):
    """The listener's address cannot be bound (the message says where and why)."""


@contextmanager
def running_listener(settings: Settings, services: PatientServices) -> Iterator[ListenerThread]:
    """The MLLP listener of ``settings`` over ``services``, bound and serving in a thread
    until the block ends; then stopped gracefully (messages in hand are answered first).
    Raises SettingsError (TLS files that do not load, no patientRef key) or
    ListenerNotStarted (the port cannot be bound) before anything is served."""
    import ssl

    from adapters.composition import hl7_processor
    from adapters.hl7.listener import MllpListener, server_tls_context
    from adapters.hl7.listener_thread import ListenerThread

    if settings.mllp_port is None:
        raise SettingsError("MLLP_PORT: must be set to run the MLLP listener")
    processor = hl7_processor(settings, services)
    context = None
    if settings.mllp_tls_cert_file is not None and settings.mllp_tls_key_file is not None:
        try:
            context = server_tls_context(
                settings.mllp_tls_cert_file, settings.mllp_tls_key_file,
                settings.mllp_tls_client_ca_file,
            )  # fmt: skip
        except (ssl.SSLError, OSError) as error:
            raise SettingsError(
                "MLLP_TLS_CERT_FILE / MLLP_TLS_KEY_FILE / MLLP_TLS_CLIENT_CA_FILE: cannot be "
                f"loaded ({type(error).__name__}: {error.strerror or error})"
            ) from None
    listener = MllpListener(
        processor.handle_bytes, host=settings.mllp_host, port=settings.mllp_port,
        ssl_context=context, max_message_bytes=settings.max_body_bytes,
        idle_timeout=settings.mllp_idle_timeout_seconds,
        max_connections=settings.mllp_max_connections,
        # One thread per database connection the process keeps: more would only queue
        # for a connection (on SQLite, writes are serialised anyway).
        threads=settings.postgres_pool_size,
    )  # fmt: skip
    thread = ListenerThread(listener)
    try:
        thread.start()
    except OSError as error:
        raise ListenerNotStarted(
            f"cannot listen for MLLP on {settings.mllp_host}:{settings.mllp_port}: "
            f"{error.strerror or error}"
        ) from None
    try:
        yield thread
    finally:
        thread.stop()


def listening_line(settings: Settings, port: int) -> str:
    if settings.mllp_tls_client_ca_file is not None:
        security = "TLS, client certificates required"
    else:
        security = "TLS" if settings.mllp_tls else "plain TCP"
    senders = (
        f"{len(settings.hl7_allowed_senders)} allowed sender(s)"
        if settings.hl7_allowed_senders
        else "any sender"
    )
    return f"MLLP listener on {settings.mllp_host}:{port} ({security}; {senders})"

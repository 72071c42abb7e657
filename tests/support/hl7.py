"""HL7 v2 test helpers: the sample messages, MLLP over a real socket, and what the
OpenAPI contract test needs to send and read ``application/hl7-v2``."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import schemathesis
from hypothesis import strategies as st

from adapters.hl7.framing import FrameDecoder, frame
from adapters.hl7.listener import MllpListener
from adapters.hl7.listener_thread import ListenerThread
from adapters.settings import Settings
from application.service import PatientServices
from domain.visits.identity import visit_id_for

HL7_MEDIA_TYPE = "application/hl7-v2"
SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "hl7"


def sample(name: str) -> bytes:
    """A sample message file's bytes (tests/fixtures/hl7, named by its file name)."""
    return (SAMPLES / name).read_bytes()


def samples() -> Iterator[tuple[str, bytes]]:
    for path in sorted(SAMPLES.glob("*.hl7")):
        yield path.name, path.read_bytes()


def register_contract_media_type() -> None:
    """Teach schemathesis to send ``application/hl7-v2`` bodies (the sample messages, and
    arbitrary text: the route answers either with an ACK) and to read the ACKs as text."""
    messages = [raw for _, raw in samples()]
    bodies = st.one_of(st.sampled_from(messages), st.text(max_size=200).map(str.encode))
    schemathesis.openapi.media_type(HL7_MEDIA_TYPE, bodies)

    @schemathesis.deserializer(HL7_MEDIA_TYPE)
    def _as_text(ctx: object, response: object) -> str:
        return response.content.decode("utf-8", "replace")  # type: ignore[attr-defined]


class MllpClient:
    """A blocking MLLP client: ``send`` frames a message, ``receive`` reads the next ACK."""

    def __init__(
        self, port: int, *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None,
        timeout: float = 20.0,
    ) -> None:  # fmt: skip
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock = tls.wrap_socket(raw, server_hostname="localhost") if tls else raw
        self._decoder = FrameDecoder()
        self._pending: list[bytes] = []

    def send(self, message: bytes) -> None:
        self.sock.sendall(frame(message.replace(b"\n", b"\r")))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> bytes:
        while not self._pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the listener closed the connection")
            self._pending.extend(self._decoder.feed(data))
        return self._pending.pop(0)

    def exchange(self, message: bytes, acks: int = 1) -> list[bytes]:
        self.send(message)
        return [self.receive() for _ in range(acks)]

    def closed_by_peer(self) -> bool:
        """True when the listener has closed the connection (EOF, or a reset)."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> MllpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def msa(ack: bytes) -> list[str]:
    """An ACK's MSA fields: ``[“MSA”, code, control id, …]``."""
    for segment in ack.decode("latin-1").split("\r"):
        if segment.startswith("MSA"):
            return segment.split("|")
    raise AssertionError("no MSA segment in the ACK")


def err(ack: bytes) -> list[str]:
    """An ACK's ERR fields, or [] when it has none."""
    for segment in ack.decode("latin-1").split("\r"):
        if segment.startswith("ERR"):
            return segment.split("|")
    return []


# ---- messages ----------------------------------------------------------------------------
def hl7_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S+0000")


def adt(
    trigger: str,
    control_id: str,
    *,
    visit: str = "V-1",
    at: datetime | None = None,
    sender: tuple[str, str] = ("EPIC", "UCLH"),
    ack_modes: tuple[str, str] = ("", ""),
    mrn: str = "MRN-1",
    unit: str = "ED",
    bed: tuple[str, str] | None = None,
    patient_class: str = "E",
    disposition: str | None = None,
    extra_segments: tuple[str, ...] = (),
    pid_extra: dict[int, str] | None = None,
) -> bytes:
    """An ADT message for visit ``visit`` (PV1-19, authority UCLH) of patient ``mrn``
    (PID-3, type MR), sent by ``sender`` (MSH-3, MSH-4) at ``at`` (default: a minute ago).
    ``pid_extra`` sets more PID fields by number (names, birth date, ... for PHI tests)."""
    when = hl7_time(at or datetime.now(timezone.utc) - timedelta(minutes=1))
    accept, application = ack_modes
    msh = [
        "MSH", "^~\\&", sender[0], sender[1], "PATIENT-SERVICES", "HOSP", when, "",
        f"ADT^{trigger}^ADT_A01", control_id, "P", "2.5", "", "", accept, application,
    ]  # fmt: skip
    pid = ["PID", "1", "", f"{mrn}^^^UCLH^MR"] + [""] * 26
    for number, value in (pid_extra or {}).items():
        pid[number] = value
    pv1 = ["PV1", "1", patient_class, _location(unit, bed)] + [""] * 42
    pv1[19] = f"{visit}^^^UCLH"
    if disposition is not None:
        pv1[36] = disposition
        pv1[45] = when
    segments = [
        "|".join(msh),
        f"EVN|{trigger}|{when}",
        "|".join(pid).rstrip("|"),
        *extra_segments,
        "|".join(pv1).rstrip("|"),
    ]
    return "\r".join(segments).encode()


def _location(unit: str, bed: tuple[str, str] | None) -> str:
    return f"{unit}^{bed[0]}^{bed[1]}" if bed else unit


def visit_of(number: str, authority: str = "UCLH") -> UUID:
    """The id the feed gives visit ``number`` (PV1-19 with its authority)."""
    return visit_id_for(number, authority)


# ---- TLS material, made with the openssl command ------------------------------------------
@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    #: A certificate no CA of ours signed (self-signed).
    rogue_cert: Path
    rogue_key: Path

    def client_context(self, *, cert: bool = True, rogue: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        if rogue:
            context.load_cert_chain(self.rogue_cert, self.rogue_key)
        elif cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


def make_tls_files(directory: Path) -> TlsFiles:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate it
    signed, plus a self-signed rogue client; skips the test when openssl is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command to make test certificates (and no cryptography)")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=directory)

    def key(name: str) -> None:
        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", f"{name}.key")  # fmt: skip

    key("ca")
    run("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Test HL7 CA", "-days", "2",
        "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    for name, extensions in (
        ("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        key(name)
        run("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out", f"{name}.csr")
        (directory / f"{name}.ext").write_text(extensions + "\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
            "-out", f"{name}.pem")  # fmt: skip
    key("rogue")
    run("req", "-x509", "-new", "-key", "rogue.key", "-subj", "/CN=rogue", "-days", "2",
        "-out", "rogue.pem")  # fmt: skip
    return TlsFiles(
        ca=directory / "ca.pem", server_cert=directory / "server.pem",
        server_key=directory / "server.key", client_cert=directory / "client.pem",
        client_key=directory / "client.key", rogue_cert=directory / "rogue.pem",
        rogue_key=directory / "rogue.key",
    )  # fmt: skip


# ---- a listener in the test process -------------------------------------------------------
@contextmanager
def listening(handle: Callable[[bytes], list[bytes]], **options: Any) -> Iterator[ListenerThread]:
    """An MLLP listener on a free port of 127.0.0.1 serving ``handle``, stopped afterwards."""
    thread = ListenerThread(MllpListener(handle, port=0, **options))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop(timeout=60)


def last_position(services: PatientServices) -> int:
    """The newest position in the event log (0 when empty): what "records nothing" means."""
    return services.recorder.max_notification_id() or 0  # type: ignore[attr-defined]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a CLI process needs to use ``settings``'s store."""
    env = {
        "VAR_DIR": str(settings.var_dir),
        "JWT_SECRET": settings.jwt_secret,
        "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
    }
    if settings.database_url is not None:
        env["DATABASE_URL"] = settings.database_url
    if settings.patient_ref_secret is not None:
        env["PATIENT_REF_SECRET"] = settings.patient_ref_secret
    if settings.privacy_kek is not None:
        env["PRIVACY_KEK"] = settings.privacy_kek
    return env

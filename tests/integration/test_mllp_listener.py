"""The MLLP listener over a real socket, on SQLite and PostgreSQL: framing, ordering,
concurrency, resends, ACK only after commit, the sender allow-list, mutual TLS, and the
connections it must not keep (oversized frames, idle and half-open peers, a stop)."""

from __future__ import annotations

import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from adapters.composition import hl7_processor
from adapters.hl7.framing import frame
from adapters.hl7.listener import server_tls_context
from adapters.hl7.processor import Hl7Processor
from adapters.settings import Settings
from adapters.storage import eventsourcing_env
from application.service import PatientServices
from tests.support.hl7 import (
    MllpClient,
    adt,
    err,
    last_position,
    listening,
    make_tls_files,
    msa,
    visit_of,
)

REF_SECRET = "mllp-test-ref-secret-" + "x" * 40


def processor(settings: Settings, services: PatientServices, **changes: Any) -> Hl7Processor:
    return hl7_processor(replace(settings, patient_ref_secret=REF_SECRET, **changes), services)


def an_hour_ago() -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=1)


class SlowCommit(PatientServices):
    """Waits before each save: an ACK sent before the commit would arrive before the
    events are in the store, which the tests below would see."""

    name = PatientServices.name  # the same tables (eventsourcing names them by the app)
    delay = 0.4

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saving = threading.Event()

    def save(self, *args: Any, **kwargs: Any) -> Any:
        self.saving.set()
        time.sleep(self.delay)
        return super().save(*args, **kwargs)


def test_several_messages_on_one_connection_are_acked_in_order_and_recorded(
    store_settings: Settings, services: PatientServices
) -> None:
    start = an_hour_ago()
    messages = [
        adt("A01", "ADM-1", at=start, unit="W1", bed=("R1", "B1"), patient_class="I"),
        adt("A02", "TRF-1", at=start + timedelta(minutes=5), unit="W2", bed=("R2", "B1")),
        adt("A03", "DIS-1", at=start + timedelta(minutes=9), unit="W2", disposition="01"),
    ]
    with listening(processor(store_settings, services).handle_bytes) as listener:
        with MllpClient(listener.port) as client:
            acks = [client.exchange(message)[0] for message in messages]

    assert [msa(ack)[1:3] for ack in acks] == [["AA", "ADM-1"], ["AA", "TRF-1"], ["AA", "DIS-1"]]
    visit = services.get_visit(visit_of("V-1"))
    assert (visit.status, visit.disposition) == ("discharged", "home")


def test_many_connections_at_once_are_each_served(
    store_settings: Settings, services: PatientServices
) -> None:
    count = 6
    with listening(processor(store_settings, services).handle_bytes) as listener:
        clients = [MllpClient(listener.port) for _ in range(count)]
        try:
            deadline = time.monotonic() + 10
            while listener.listener.connections < count:
                assert time.monotonic() < deadline, "the connections were not all accepted"
                time.sleep(0.01)

            def register(number: int) -> list[str]:
                message = adt("A04", f"REG-{number}", visit=f"V-{number}", unit="ED")
                return msa(clients[number].exchange(message)[0])

            with ThreadPoolExecutor(count) as pool:
                answers = list(pool.map(register, range(count)))
        finally:
            for client in clients:
                client.close()

    assert answers == [["MSA", "AA", f"REG-{n}"] for n in range(count)]
    for number in range(count):
        assert services.get_visit(visit_of(f"V-{number}")).status == "arrived"


def test_a_frame_split_across_reads_with_noise_before_it_is_read_whole(
    store_settings: Settings, services: PatientServices
) -> None:
    data = b"\r\nnoise outside any frame\r\n" + frame(adt("A04", "SPLIT-1"))
    with listening(processor(store_settings, services).handle_bytes) as listener:
        with MllpClient(listener.port) as client:
            for start in range(0, len(data), 7):
                client.send_raw(data[start : start + 7])
                time.sleep(0.002)
            ack = client.receive()

    assert msa(ack)[1:3] == ["AA", "SPLIT-1"]
    assert services.get_visit(visit_of("V-1")).status == "arrived"


def test_a_resend_gets_the_first_ack_again_and_records_nothing_new(
    store_settings: Settings, services: PatientServices
) -> None:
    message = adt("A04", "RESEND-1")
    with listening(processor(store_settings, services).handle_bytes) as listener:
        with MllpClient(listener.port) as client:
            first = client.exchange(message)[0]
        recorded = last_position(services)
        # The engine timed out, reconnected and sent it again.
        with MllpClient(listener.port) as client:
            again = client.exchange(message)[0]

    assert msa(first)[1] == msa(again)[1] == "AA"
    # The same ACK: its own control id (MSH-10) is derived from the message's.
    assert first.split(b"|")[9] == again.split(b"|")[9]
    assert last_position(services) == recorded


def test_enhanced_mode_sends_ca_only_once_the_events_are_committed(
    store_settings: Settings, services: PatientServices
) -> None:
    slow = SlowCommit(env=eventsourcing_env(store_settings))
    try:
        with listening(processor(store_settings, slow).handle_bytes) as listener:
            with MllpClient(listener.port) as client:
                client.send(adt("A04", "ENH-1", ack_modes=("AL", "AL")))
                accept = client.receive()
                # Read through another application instance, at once: no cache of the
                # writer's can answer for the store.
                visit = services.get_visit(visit_of("V-1"))
                application = client.receive()
                refused = client.exchange(
                    adt("A02", "ENH-2", visit="V-404", ack_modes=("AL", "AL")), 2
                )
    finally:
        slow.close()

    assert msa(accept)[1:3] == ["CA", "ENH-1"]
    assert visit.status == "arrived"
    assert msa(application)[1:3] == ["AA", "ENH-1"]
    # Refused by a rule: CE (nothing committed), then AE naming the code.
    assert [msa(ack)[1] for ack in refused] == ["CE", "AE"]
    assert err(refused[1])[7] == "NOT_FOUND"


def test_an_unknown_sender_is_rejected_with_ar_when_the_allow_list_is_set(
    store_settings: Settings, services: PatientServices
) -> None:
    handle = processor(
        store_settings, services, hl7_allowed_senders=("LAB", "EPIC^UCLH")
    ).handle_bytes
    with listening(handle) as listener:
        with MllpClient(listener.port) as client:
            stranger = client.exchange(adt("A04", "WHO-1", sender=("PAS", "ELSEWHERE")))[0]
            other_site = client.exchange(adt("A04", "WHO-2", sender=("EPIC", "OTHER")))[0]
            before = last_position(services)
            accepted = client.exchange(adt("A04", "WHO-3", sender=("EPIC", "UCLH")))[0]

    assert msa(stranger)[1] == msa(other_site)[1] == "AR"
    assert err(stranger)[7] == "UNKNOWN_SENDER"
    assert before == 0  # the rejected messages recorded nothing
    assert msa(accepted)[1] == "AA"


def test_mutual_tls_accepts_a_client_certificate_of_the_ca_and_refuses_the_others(
    store_settings: Settings, services: PatientServices, tmp_path: Path
) -> None:
    files = make_tls_files(tmp_path)
    context = server_tls_context(files.server_cert, files.server_key, files.ca)
    handle = processor(store_settings, services).handle_bytes
    with listening(handle, ssl_context=context) as listener:
        with MllpClient(listener.port, tls=files.client_context()) as client:
            ack = client.exchange(adt("A04", "TLS-1"))[0]
        recorded = last_position(services)
        for refused in (files.client_context(cert=False), files.client_context(rogue=True)):
            with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
                with MllpClient(listener.port, tls=refused) as client:
                    client.exchange(adt("A04", "TLS-2", visit="V-2"))
        with MllpClient(listener.port) as plain:  # no TLS at all
            plain.send(adt("A04", "TLS-3", visit="V-3"))
            assert plain.closed_by_peer()

    assert msa(ack)[1:3] == ["AA", "TLS-1"]
    assert services.get_visit(visit_of("V-1")).status == "arrived"
    assert last_position(services) == recorded  # the refused connections recorded nothing


def test_a_frame_over_the_limit_closes_the_connection_and_records_nothing(
    store_settings: Settings, services: PatientServices
) -> None:
    handle = processor(store_settings, services).handle_bytes
    with listening(handle, max_message_bytes=2000) as listener:
        with MllpClient(listener.port) as client:
            big = adt("A04", "BIG-1", extra_segments=("ZZZ|" + "x" * 3000,))
            client.send(big)
            assert client.closed_by_peer()
        assert last_position(services) == 0
        with MllpClient(listener.port) as client:  # the listener itself goes on
            ack = client.exchange(adt("A04", "SMALL-1", visit="V-2"))[0]

    assert msa(ack)[1] == "AA"


@pytest.mark.parametrize("half_frame", [b"", b"\x0bMSH|^~\\&|EPIC|UCLH"])
def test_idle_and_half_open_connections_are_closed_after_the_idle_timeout(
    store_settings: Settings, services: PatientServices, half_frame: bytes
) -> None:
    handle = processor(store_settings, services).handle_bytes
    with listening(handle, idle_timeout=0.5) as listener:
        with MllpClient(listener.port) as client:
            client.send_raw(half_frame)
            started = time.monotonic()
            assert client.closed_by_peer()
            waited = time.monotonic() - started
        assert listener.listener.connections == 0

    assert 0.3 < waited < 5


def test_stop_answers_the_message_in_hand_then_closes_every_connection(
    store_settings: Settings, services: PatientServices
) -> None:
    slow = SlowCommit(env=eventsourcing_env(store_settings))
    slow.delay = 1.0
    try:
        with listening(processor(store_settings, slow).handle_bytes) as listener:
            idle = MllpClient(listener.port)
            busy = MllpClient(listener.port)
            busy.send(adt("A04", "LAST-1"))
            assert slow.saving.wait(30)  # the message is being processed now
            stopper = threading.Thread(target=listener.stop)
            stopper.start()
            ack = busy.receive()
            assert busy.closed_by_peer() and idle.closed_by_peer()
            stopper.join(30)
            assert not listener.is_alive()
            busy.close()
            idle.close()
    finally:
        slow.close()

    assert msa(ack)[1:3] == ["AA", "LAST-1"]
    assert services.get_visit(visit_of("V-1")).status == "arrived"


def test_a_connection_over_the_limit_is_closed_and_the_others_are_served(
    store_settings: Settings, services: PatientServices
) -> None:
    # Each connection may hold an unfinished frame of up to the size limit: the number of
    # connections is what bounds that memory.
    handle = processor(store_settings, services).handle_bytes
    with listening(handle, max_connections=2) as listener:
        first, second = MllpClient(listener.port), MllpClient(listener.port)
        try:
            deadline = time.monotonic() + 10
            while listener.listener.connections < 2:
                assert time.monotonic() < deadline, "the connections were not accepted"
                time.sleep(0.01)
            with MllpClient(listener.port) as third:
                assert third.closed_by_peer()
            [ack] = first.exchange(adt("A04", "LIM-1", visit="V-LIM", unit="ED"))
        finally:
            first.close()
            second.close()

    assert msa(ack) == ["MSA", "AA", "LIM-1"]

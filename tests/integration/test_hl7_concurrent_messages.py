"""Messages for one visit arriving at once on several connections (an engine with a pool of
outbound connections) are each recorded: the processor takes a visit's messages one at a
time, so none loses a race and none is refused for it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from application.service import PatientServices
from domain.visits.identity import visit_id_for
from tests.support.hl7_messages import Adt, msa, processor

AT_ONCE = 24


def test_transfers_of_one_visit_sent_at_once_are_all_recorded(services: PatientServices) -> None:
    handler = processor(services)
    [admitted] = handler.handle(Adt("A01", "adm", location="W0^^^RFH").er7())
    assert msa(admitted)[0] == "AA"
    together = threading.Barrier(AT_ONCE)

    def transfer(n: int) -> str:
        message = Adt("A02", f"t{n}", location=f"W{n + 1}^^^RFH", evn_time="202612011010")
        together.wait()
        [reply] = handler.handle(message.er7())
        return msa(reply)[0]

    with ThreadPoolExecutor(AT_ONCE) as pool:
        codes = list(pool.map(transfer, range(AT_ONCE)))

    assert codes == ["AA"] * AT_ONCE
    transfers = [
        e for e in services.visit_events(visit_id_for("V1001", "RFH"))
        if type(e).__name__ == "PatientTransferred"
    ]  # fmt: skip
    assert len(transfers) == AT_ONCE

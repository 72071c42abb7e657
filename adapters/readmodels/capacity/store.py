"""The capacity read model's tables and queries (PostgreSQL and SQLite, one SQL).

Tables (``<prefix>`` = ``capacity_g<generation>_``):

* ``units``: one row per unit, its beds as JSON (a unit's bed list changes as a whole);
* ``schedules``: one row per clinic schedule, its definition and cancelled sessions;
* ``slots``: one row per slot ever claimed: its schedule, start and the claims it holds now.

Each row keeps its aggregate's version: a record at or below it was folded already (a
redelivery), so the fold is idempotent. Unknown event classes of these aggregates are
skipped with one warning per class (never raised: no record can stop the worker).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from itertools import islice
from typing import Any

import msgspec
import structlog

from adapters.readmodels.base import LogReader
from adapters.readmodels.database import Transaction
from projections.capacity import configuration as cap
from projections.capacity.configuration import (
    DayList,
    DaySlot,
    DayVisit,
    Offer,
    ScheduleView,
    SessionList,
    SlotList,
    SlotView,
    UnitView,
    Waitlist,
    WaitlistEntry,
    slot_views,
    unit_view,
)
from projections.shared.records import (
    FirstSighting,
    StoredRecord,
    decode_state,
    from_micros,
    key_text,
    key_text_or_none,
    to_micros,
)

NAME = "capacity"
log = structlog.get_logger("projections")
_unknown = FirstSighting()

Fold = Callable[[Transaction, str, StoredRecord, dict[str, Any]], None]

_UNIT_COLUMNS = ("id", "code", "name", "kind", "open", "beds", "version")
_SCHEDULE_COLUMNS = (
    "id", "service_unit", "service", "clinician_ref", "start_at", "end_at", "slot_minutes",
    "capacity_per_slot", "overbook_allowance", "weekdays", "until", "time_zone", "cancelled",
    "version",
)  # fmt: skip


def _ddl(prefix: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}units (id TEXT NOT NULL, code TEXT NOT NULL,"
        " name TEXT NOT NULL, kind TEXT NOT NULL, open INTEGER NOT NULL, beds TEXT NOT NULL,"
        " version BIGINT NOT NULL, PRIMARY KEY (id))",
        f"CREATE INDEX IF NOT EXISTS {prefix}units_code ON {prefix}units (code)",
        f"CREATE TABLE IF NOT EXISTS {prefix}schedules (id TEXT NOT NULL,"
        " service_unit TEXT NOT NULL, service TEXT, clinician_ref TEXT,"
        " start_at BIGINT NOT NULL, end_at BIGINT NOT NULL, slot_minutes INTEGER NOT NULL,"
        " capacity_per_slot INTEGER NOT NULL, overbook_allowance INTEGER NOT NULL,"
        " weekdays TEXT NOT NULL, until TEXT, time_zone TEXT NOT NULL, cancelled TEXT NOT NULL,"
        " version BIGINT NOT NULL, PRIMARY KEY (id))",
        f"CREATE INDEX IF NOT EXISTS {prefix}schedules_unit"
        f" ON {prefix}schedules (service_unit, service)",
        f"CREATE TABLE IF NOT EXISTS {prefix}slots (id TEXT NOT NULL, schedule_id TEXT NOT NULL,"
        " start_at BIGINT NOT NULL, booked INTEGER NOT NULL, no_shows INTEGER NOT NULL,"
        " version BIGINT NOT NULL, PRIMARY KEY (id))",
        f"CREATE INDEX IF NOT EXISTS {prefix}slots_schedule"
        f" ON {prefix}slots (schedule_id, start_at)",
        # Who holds each slot now, for the clinic's day list.
        f"CREATE TABLE IF NOT EXISTS {prefix}claims (slot_id TEXT NOT NULL,"
        " visit_id TEXT NOT NULL, schedule_id TEXT NOT NULL, start_at BIGINT NOT NULL,"
        " PRIMARY KEY (slot_id, visit_id))",
        f"CREATE INDEX IF NOT EXISTS {prefix}claims_schedule"
        f" ON {prefix}claims (schedule_id, start_at)",
        # Each schedule's waitlist (its version) and the patients on it, with open offers.
        f"CREATE TABLE IF NOT EXISTS {prefix}waitlists (id TEXT NOT NULL,"
        " schedule_id TEXT NOT NULL, version BIGINT NOT NULL, PRIMARY KEY (id))",
        f"CREATE TABLE IF NOT EXISTS {prefix}waitlist (entry_id TEXT NOT NULL,"
        " waitlist_id TEXT NOT NULL, schedule_id TEXT NOT NULL, patient_ref TEXT NOT NULL,"
        " priority INTEGER NOT NULL, seq BIGINT NOT NULL, since_at BIGINT NOT NULL,"
        " earliest_at BIGINT, latest_at BIGINT, offer_start BIGINT, offer_end BIGINT,"
        " offer_expires_at BIGINT, PRIMARY KEY (entry_id))",
        f"CREATE INDEX IF NOT EXISTS {prefix}waitlist_schedule"
        f" ON {prefix}waitlist (schedule_id, priority, seq)",
        f"CREATE INDEX IF NOT EXISTS {prefix}waitlist_offers"
        f" ON {prefix}waitlist (offer_expires_at)",
    ]


class CapacityReadModel:
    """Units, schedules and slot claims (see the module's docstring)."""

    name = NAME

    def wants(self, topic: str) -> bool:
        return cap.wants(topic)

    def create_tables(self, tx: Transaction, prefix: str) -> None:
        for statement in _ddl(prefix):
            tx.execute(statement)

    def drop_tables(self, tx: Transaction, prefix: str) -> None:
        for table in ("waitlist", "waitlists", "claims", "slots", "schedules", "units"):
            tx.execute(f"DROP TABLE IF EXISTS {prefix}{table}")

    def reset(self) -> None:
        """Nothing is cached between batches."""

    def apply(
        self, tx: Transaction, prefix: str, records: Sequence[StoredRecord], log_: LogReader
    ) -> None:
        for record in records:
            kind = cap.event_name(record.topic)
            fold = _FOLDS.get(kind)
            if fold is None:
                if _unknown.first(record.topic):
                    log.warning("capacity.unknown_event", topic=key_text(record.topic))
                continue
            fold(tx, prefix, record, decode_state(record.state))


# ---- the fold, one statement per event -----------------------------------------------------
def _newer(tx: Transaction, table: str, record: StoredRecord) -> bool:
    rows = tx.execute(f"SELECT version FROM {table} WHERE id = ?", (str(record.originator_id),))
    return bool(rows) and rows[0][0] < record.originator_version


def _beds(beds: list[dict[str, object]]) -> str:
    return msgspec.json.encode(
        [{"bed": b["bed"], "type": b.get("type"), "closed": bool(b.get("closed"))} for b in beds]
    ).decode()


def _unit_created(
    tx: Transaction, prefix: str, record: StoredRecord, state: dict[str, Any]
) -> None:
    if tx.execute(f"SELECT 1 FROM {prefix}units WHERE id = ?", (str(record.originator_id),)):
        return
    tx.execute(
        f"INSERT INTO {prefix}units ({', '.join(_UNIT_COLUMNS)}) VALUES (?, ?, ?, ?, 1, ?, ?)",
        (str(record.originator_id), key_text(state["code"]), state["name"], state["kind"],
         _beds(state["beds"]), record.originator_version),
    )  # fmt: skip


def _unit_change(column: str, value: object) -> Fold:
    def fold(tx: Transaction, prefix: str, record: StoredRecord, state: dict[str, Any]) -> None:
        if not _newer(tx, f"{prefix}units", record):
            return
        new = _beds(state["beds"]) if value is None else value
        tx.execute(
            f"UPDATE {prefix}units SET {column} = ?, version = ? WHERE id = ?",
            (new, record.originator_version, str(record.originator_id)),
        )

    return fold


def _schedule_created(
    tx: Transaction, prefix: str, record: StoredRecord, state: dict[str, Any]
) -> None:
    if tx.execute(f"SELECT 1 FROM {prefix}schedules WHERE id = ?", (str(record.originator_id),)):
        return
    placeholders = ", ".join("?" for _ in _SCHEDULE_COLUMNS)
    tx.execute(
        f"INSERT INTO {prefix}schedules ({', '.join(_SCHEDULE_COLUMNS)}) VALUES ({placeholders})",
        (str(record.originator_id), key_text(state["service_unit"]),
         key_text_or_none(state["service"]),
         state["clinician_ref"], to_micros(state["start"]), to_micros(state["end"]),
         state["slot_minutes"], state["capacity_per_slot"], state["overbook_allowance"],
         ",".join(state["weekdays"]), state["until"], state["time_zone"], "",
         record.originator_version),
    )  # fmt: skip


def _session_cancelled(
    tx: Transaction, prefix: str, record: StoredRecord, state: dict[str, Any]
) -> None:
    if not _newer(tx, f"{prefix}schedules", record):
        return
    rows = tx.execute(
        f"SELECT cancelled FROM {prefix}schedules WHERE id = ?", (str(record.originator_id),)
    )
    days = [d for d in rows[0][0].split(",") if d] + [state["date"]]
    tx.execute(
        f"UPDATE {prefix}schedules SET cancelled = ?, version = ? WHERE id = ?",
        (",".join(sorted(set(days))), record.originator_version, str(record.originator_id)),
    )


def _slot_opened(tx: Transaction, prefix: str, record: StoredRecord, state: dict[str, Any]) -> None:
    if tx.execute(f"SELECT 1 FROM {prefix}slots WHERE id = ?", (str(record.originator_id),)):
        return
    tx.execute(
        f"INSERT INTO {prefix}slots (id, schedule_id, start_at, booked, no_shows, version)"
        " VALUES (?, ?, ?, 1, 0, ?)",
        (str(record.originator_id), str(state["schedule_id"]), to_micros(state["start"]),
         record.originator_version),
    )  # fmt: skip
    _hold(tx, prefix, str(record.originator_id), str(state["visit_id"]))


def _hold(tx: Transaction, prefix: str, slot_id: str, visit_id: str) -> None:
    tx.execute(
        f"INSERT INTO {prefix}claims (slot_id, visit_id, schedule_id, start_at)"
        f" SELECT id, ?, schedule_id, start_at FROM {prefix}slots WHERE id = ?",
        (visit_id, slot_id),
    )


def _slot_change(delta: int) -> Fold:
    """A claim (+1) or a release (-1); a release for a no-show counts a no-show, a claim
    restored by a reverted no-show takes one back."""

    def fold(tx: Transaction, prefix: str, record: StoredRecord, state: dict[str, Any]) -> None:
        if not _newer(tx, f"{prefix}slots", record):
            return
        no_show = 1 if state.get("why") == "no-show" else -1 if state.get("restored") else 0
        slot_id, visit_id = str(record.originator_id), str(state["visit_id"])
        tx.execute(
            f"UPDATE {prefix}slots SET booked = booked + ?, no_shows = no_shows + ?,"
            " version = ? WHERE id = ?",
            (delta, no_show, record.originator_version, slot_id),
        )
        if delta > 0:
            _hold(tx, prefix, slot_id, visit_id)
        else:
            tx.execute(
                f"DELETE FROM {prefix}claims WHERE slot_id = ? AND visit_id = ?",
                (slot_id, visit_id),
            )

    return fold


def _waitlist_opened(
    tx: Transaction, prefix: str, record: StoredRecord, state: dict[str, Any]
) -> None:
    if tx.execute(f"SELECT 1 FROM {prefix}waitlists WHERE id = ?", (str(record.originator_id),)):
        return
    tx.execute(
        f"INSERT INTO {prefix}waitlists (id, schedule_id, version) VALUES (?, ?, ?)",
        (str(record.originator_id), str(state["schedule_id"]), record.originator_version),
    )


def _waitlist_change(
    change: Callable[[Transaction, str, StoredRecord, dict[str, Any]], None],
) -> Fold:
    """A change of a waitlist, folded once: at a version above the one stored."""

    def fold(tx: Transaction, prefix: str, record: StoredRecord, state: dict[str, Any]) -> None:
        if not _newer(tx, f"{prefix}waitlists", record):
            return
        change(tx, prefix, record, state)
        tx.execute(
            f"UPDATE {prefix}waitlists SET version = ? WHERE id = ?",
            (record.originator_version, str(record.originator_id)),
        )

    return fold


def _waitlisted(tx: Transaction, prefix: str, record: StoredRecord, state: dict[str, Any]) -> None:
    schedule = tx.execute(
        f"SELECT schedule_id FROM {prefix}waitlists WHERE id = ?", (str(record.originator_id),)
    )[0][0]
    tx.execute(
        f"INSERT INTO {prefix}waitlist (entry_id, waitlist_id, schedule_id, patient_ref,"
        " priority, seq, since_at, earliest_at, latest_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (str(state["entry_id"]), str(record.originator_id), schedule,
         key_text(state["patient_ref"]), state["priority"], record.originator_version,
         to_micros(state["occurred_at"]), to_micros(state["earliest"]),
         to_micros(state["latest"])),
    )  # fmt: skip


def _offered(tx: Transaction, prefix: str, record: StoredRecord, state: dict[str, Any]) -> None:
    tx.execute(
        f"UPDATE {prefix}waitlist SET offer_start = ?, offer_end = ?, offer_expires_at = ?"
        " WHERE entry_id = ?",
        (to_micros(state["start"]), to_micros(state["end"]), to_micros(state["expires_at"]),
         str(state["entry_id"])),
    )  # fmt: skip


def _accepted(tx: Transaction, prefix: str, record: StoredRecord, state: dict[str, Any]) -> None:
    tx.execute(f"DELETE FROM {prefix}waitlist WHERE entry_id = ?", (str(state["entry_id"]),))


def _lapsed(tx: Transaction, prefix: str, record: StoredRecord, state: dict[str, Any]) -> None:
    tx.execute(
        f"UPDATE {prefix}waitlist SET offer_start = NULL, offer_end = NULL,"
        " offer_expires_at = NULL WHERE entry_id = ?",
        (str(state["entry_id"]),),
    )


_FOLDS = {
    "UnitConfigured": _unit_created,
    "UnitClosed": _unit_change("open", 0),
    "UnitOpened": _unit_change("open", 1),
    "BedsChanged": _unit_change("beds", None),
    "ScheduleCreated": _schedule_created,
    "SessionCancelled": _session_cancelled,
    "SlotOpened": _slot_opened,
    "SlotClaimed": _slot_change(+1),
    "SlotReleased": _slot_change(-1),
    "WaitlistOpened": _waitlist_opened,
    "PatientWaitlisted": _waitlist_change(_waitlisted),
    "SlotOffered": _waitlist_change(_offered),
    "OfferAccepted": _waitlist_change(_accepted),
    "OfferExpired": _waitlist_change(_lapsed),
}
assert set(_FOLDS) == set().union(*cap.HANDLED.values())


# ---- queries ---------------------------------------------------------------------------------
def units(tx: Transaction, prefix: str, code: str | None = None) -> list[UnitView]:
    where, params = ("WHERE code = ?", (key_text(code),)) if code is not None else ("", ())
    rows = tx.execute(
        f"SELECT {', '.join(_UNIT_COLUMNS)} FROM {prefix}units {where} ORDER BY code", params
    )
    return [unit_view(row) for row in rows]


def _schedule(row: tuple[object, ...]) -> ScheduleView:
    (id_, unit, service, clinician, start, end, slot_minutes, capacity, allowance, weekdays,
     until, zone, cancelled, version) = row  # fmt: skip
    return ScheduleView(
        id=str(id_), service_unit=str(unit), service=service,  # type: ignore[arg-type]
        clinician_ref=clinician,  # type: ignore[arg-type]
        start=from_micros(start), end=from_micros(end),  # type: ignore[arg-type]
        slot_minutes=slot_minutes, capacity_per_slot=capacity,  # type: ignore[arg-type]
        overbook_allowance=allowance,  # type: ignore[arg-type]
        weekdays=[d for d in str(weekdays).split(",") if d],
        until=date.fromisoformat(str(until)) if until else None, time_zone=str(zone),
        cancelled_sessions=[date.fromisoformat(d) for d in str(cancelled).split(",") if d],
        version=version,  # type: ignore[arg-type]
    )  # fmt: skip


def schedules(
    tx: Transaction, prefix: str, *, schedule_id: str | None = None,
    service_unit: str | None = None, service: str | None = None,
) -> list[ScheduleView]:  # fmt: skip
    clauses, params = [], []
    for column, value in (("id", schedule_id), ("service_unit", service_unit),
                          ("service", service)):  # fmt: skip
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value if column == "id" else key_text(value))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = tx.execute(
        f"SELECT {', '.join(_SCHEDULE_COLUMNS)} FROM {prefix}schedules {where} ORDER BY id",
        params,
    )
    return [_schedule(row) for row in rows]


def _booked(
    tx: Transaction, prefix: str, schedule_ids: list[str], start: datetime, end: datetime
) -> dict[str, dict[datetime, int]]:
    """Claims per slot of these schedules, for slots starting in ``[start, end)``."""
    found: dict[str, dict[datetime, int]] = {sid: {} for sid in schedule_ids}
    if not schedule_ids:
        return found
    marks = ", ".join("?" for _ in schedule_ids)
    rows = tx.execute(
        f"SELECT schedule_id, start_at, booked FROM {prefix}slots WHERE schedule_id IN ({marks})"
        " AND start_at >= ? AND start_at < ? AND booked > 0",
        [*schedule_ids, to_micros(start), to_micros(end)],
    )
    for schedule_id, start_at, booked in rows:
        moment = from_micros(start_at)
        assert moment is not None
        found[schedule_id][moment] = booked
    return found


def slots(
    tx: Transaction, prefix: str, found: list[ScheduleView], start: datetime, end: datetime,
    *, free_only: bool = False, limit: int, after: tuple[datetime, str] | None = None,
) -> SlotList:  # fmt: skip
    """The slots of these schedules that begin in ``[start, end)``, by start then schedule:
    at most ``limit``, those after the ``after`` cursor (a start and schedule id)."""
    booked = _booked(tx, prefix, [s.id for s in found], start, end)
    views: Iterator[SlotView] = cap.merged(slot_views(s, booked[s.id], start, end) for s in found)
    if free_only:
        views = (v for v in views if v.free > 0)
    if after is not None:
        cursor = after
        views = (v for v in views if (v.start, v.schedule_id) > cursor)
    page = list(islice(views, limit + 1))
    more = len(page) > limit
    page = page[:limit]
    last = page[-1] if more else None
    # UTC with a Z, so the cursor survives a query string unencoded (a "+" would not).
    next_after = None
    if last is not None:
        moment = last.start.astimezone(timezone.utc)
        next_after = f"{moment:%Y-%m-%dT%H:%M:%SZ}|{last.schedule_id}"
    return SlotList(items=page, next_after=next_after)


def session_report(
    tx: Transaction, prefix: str, schedule: ScheduleView, start: datetime, end: datetime
) -> SessionList:
    """Each session of ``schedule`` in ``[start, end)``: capacity, claims, no-shows, the
    utilisation and the DNA rate."""
    rows = tx.execute(
        f"SELECT start_at, booked, no_shows FROM {prefix}slots WHERE schedule_id = ?"
        " AND start_at >= ? AND start_at < ?",
        (schedule.id, to_micros(start - timedelta(days=1)), to_micros(end)),
    )
    counts = {}
    for start_at, booked, no_shows in rows:
        moment = from_micros(start_at)
        assert moment is not None
        counts[moment] = (booked, no_shows)
    return SessionList(items=cap.session_figures(schedule, counts, start, end))


def day_list(
    tx: Transaction, prefix: str, flow_prefix: str, schedule: ScheduleView, day: date
) -> DayList:
    """The schedule's slots on ``day`` (its local date) with the visits holding each: their
    patient and status from the flow read model (read in the same transaction)."""
    zone = schedule.recurrence().zone
    begins = datetime.combine(day, datetime.min.time(), zone)
    ends = begins + timedelta(days=1)
    rows = tx.execute(
        f"SELECT c.start_at, c.visit_id, v.patient_ref, v.status FROM {prefix}claims c"
        f" LEFT JOIN {flow_prefix}visits v ON v.id = c.visit_id"
        " WHERE c.schedule_id = ? AND c.start_at >= ? AND c.start_at < ?"
        " ORDER BY c.start_at, c.visit_id",
        (schedule.id, to_micros(begins), to_micros(ends)),
    )
    holders: dict[datetime, list[DayVisit]] = {}
    for start_at, visit_id, patient_ref, status in rows:
        moment = from_micros(start_at)
        assert moment is not None
        holders.setdefault(moment, []).append(DayVisit(visit_id, patient_ref, status))
    booked = {moment: len(found) for moment, found in holders.items()}
    slots_ = [
        DaySlot(slot=view, visits=holders.get(view.start, []))
        for view in slot_views(schedule, booked, begins, ends)
    ]
    return DayList(date=day, schedule_id=schedule.id, slots=slots_)


_ENTRY_COLUMNS = (
    "entry_id", "patient_ref", "priority", "since_at", "earliest_at", "latest_at",
    "offer_start", "offer_end", "offer_expires_at",
)  # fmt: skip


def waitlist(tx: Transaction, prefix: str, schedule_id: str) -> Waitlist:
    """The schedule's waitlist, in the order a freed slot is offered."""
    rows = tx.execute(
        f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM {prefix}waitlist WHERE schedule_id = ?"
        " ORDER BY priority, seq",
        (schedule_id,),
    )
    items = []
    for entry_id, patient, priority, since, earliest, latest, start, end, expires in rows:
        offer = None
        if start is not None:
            offer = Offer(from_micros(start), from_micros(end), from_micros(expires))  # type: ignore[arg-type]
        items.append(WaitlistEntry(
            entry_id=entry_id, patient_ref=patient, priority=priority,
            waiting_since=from_micros(since),  # type: ignore[arg-type]
            earliest=from_micros(earliest), latest=from_micros(latest), offer=offer,
        ))  # fmt: skip
    return Waitlist(schedule_id=schedule_id, items=items)


def due_offers(tx: Transaction, prefix: str, now: datetime) -> list[tuple[str, str]]:
    """(schedule id, entry id) of the offers due to expire by ``now`` (candidates: the
    waitlist decides)."""
    rows = tx.execute(
        f"SELECT schedule_id, entry_id FROM {prefix}waitlist WHERE offer_expires_at <= ?"
        " ORDER BY offer_expires_at",
        (to_micros(now),),
    )
    return [(str(s), str(e)) for s, e in rows]


#: The longest range one slot query may cover.
MAX_SLOT_RANGE = timedelta(days=92)

"""One HL7 v2 message in, its ACKs out: the same processing over MLLP, HTTP and batch files.

Original mode (MSH-15 and MSH-16 empty): one application ACK. AA when the message's events
are committed, or it is an exact repeat (same sender and MSH-10: nothing new is recorded and
the first result stands); AE when it was understood but a rule refused it (ERR-7 carries our
stable error code); AR when it could not be read, is of a type, trigger, version or
processing id we do not take, comes from a sender not allowed, or the store failed. Nothing
is recorded unless the answer is AA.

Enhanced mode (either field present): the accept ACK, as MSH-15 asks, is built only after
the transaction has committed (``handle`` returns once ``execute`` has): CA for a message
committed (or an exact repeat), CE for one refused by a rule (nothing was committed), CR for
one rejected before processing. Then, for CA or CE, the application ACK as MSH-16 asks.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, tzinfo
from uuid import uuid4

import structlog

from adapters.hl7 import ack
from adapters.hl7.charset import decode_message, encode_reply
from adapters.hl7.errors import (
    APPLICATION_INTERNAL_ERROR,
    APPLICATION_RECORD_LOCKED,
    DATA_TYPE_ERROR,
    DUPLICATE_KEY_IDENTIFIER,
    UNKNOWN_KEY_IDENTIFIER,
    UNSUPPORTED_PROCESSING_ID,
    UNSUPPORTED_VERSION_ID,
    UnparseableMessage,
)
from adapters.hl7.fields import MessageRefused
from adapters.hl7.header import Header, salvage_header
from adapters.hl7.identity import PatientRefs, as_identifier, message_id_of, source_system_of
from adapters.hl7.mapping import UnsupportedMessage, map_message
from adapters.hl7.message import Hl7Message, parse
from application.service import PatientServices
from application.shared.context import RequestContext, utc_now
from application.shared.errors import (
    AlreadyExistsError,
    CommandValidationError,
    IdempotencyKeyReusedError,
    NotFoundError,
    VersionConflictError,
)
from application.visits.commands import INTEGRATION
from domain.shared.errors import DomainError, DomainValidationError, TimestampOrderError

log = structlog.get_logger("hl7")

#: HL7 v2 versions taken (MSH-12): 2.3 to 2.8 and their point releases.
SUPPORTED_VERSIONS = frozenset(
    {"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"}
)


@dataclass(frozen=True)
class Hl7Settings:
    """What the processing needs from the settings."""

    patient_refs: PatientRefs
    zone: tzinfo
    #: MSH-3 (any facility) or ``MSH-3^MSH-4`` entries; empty: every sender is accepted.
    allowed_senders: Collection[str] = ()
    #: MSH-11 processing ids taken (P production; T training, D debugging).
    processing_ids: Collection[str] = ("P",)


class Rejected(Exception):
    """Refused before processing: AR (or CR), nothing recorded."""

    def __init__(self, error: ack.AckError) -> None:
        super().__init__(error.text)
        self.error = error


#: Messages for one visit are processed one at a time in this process (a lock per stripe of
#: visit ids): several connections of one engine may carry messages of the same visit at once,
#: and racing them only makes all but one retry on a version conflict.
LOCK_STRIPES = 64


class Hl7Processor:
    def __init__(
        self,
        services: PatientServices,
        settings: Hl7Settings,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.services = services
        self.settings = settings
        self.clock = clock
        self._visit_locks = [threading.Lock() for _ in range(LOCK_STRIPES)]

    def handle_bytes(self, raw: bytes) -> list[bytes]:
        """``handle`` for a message as received (in its MSH-18 charset); the ACKs encoded
        the same way."""
        text = decode_message(raw)
        replies = self.handle(text)
        charset = _charset_of(text)
        return [encode_reply(reply, charset) for reply in replies]

    def handle(self, text: str) -> list[str]:
        """The ACKs to send for one message, in order (none if MSH-15/16 ask for none)."""
        now = self.clock()
        try:
            message = parse(text)
        except UnparseableMessage as error:
            log.info("hl7.unparseable", hl7_code=error.code)
            refusal = ack.AckError("UNPARSEABLE_MESSAGE", error.code, error.text)
            return [ack.reject_unparseable(text, refusal, control_id=_new_id(), now=now)]
        header = message.header
        bound = log.bind(
            message_type=f"{header.message_code}^{header.trigger}",
            control_id=message_id_of(header.control_id),
            sender=source_system_of(header.sending_application, header.sending_facility),
        )
        try:
            self._check(header)
            outcome: ack.AckError | None = self._process(message)
        except Rejected as rejected:
            bound.info("hl7.rejected", code=rejected.error.code)
            return self._replies(header, "AR", rejected.error, now)
        except Exception:
            # A fault of ours or of the store: AR, so the sender keeps the message and
            # resends it later. The message's values are never logged.
            bound.exception("hl7.failed")
            fault = ack.AckError(
                "INTERNAL_ERROR", APPLICATION_INTERNAL_ERROR, "the message could not be processed"
            )
            return self._replies(header, "AR", fault, now)
        if outcome is None:
            bound.info("hl7.accepted")
            return self._replies(header, "AA", None, now)
        bound.info("hl7.refused", code=outcome.code)
        return self._replies(header, "AE", outcome, now)

    # ---- processing ----------------------------------------------------------------------
    def _check(self, header: Header) -> None:
        if header.version not in SUPPORTED_VERSIONS:
            raise Rejected(ack.AckError(
                "UNSUPPORTED_VERSION", UNSUPPORTED_VERSION_ID,
                "MSH-12: versions 2.3 to 2.8 are taken", "MSH", 12,
            ))  # fmt: skip
        if header.processing_id not in self.settings.processing_ids:
            raise Rejected(ack.AckError(
                "UNSUPPORTED_PROCESSING_ID", UNSUPPORTED_PROCESSING_ID,
                f"MSH-11: processing ids taken here: {', '.join(self.settings.processing_ids)}",
                "MSH", 11,
            ))  # fmt: skip
        if not self._sender_allowed(header):
            raise Rejected(ack.AckError(
                "UNKNOWN_SENDER", UNKNOWN_KEY_IDENTIFIER,
                "MSH-3/MSH-4: this sender is not on the allow-list", "MSH", 3,
            ))  # fmt: skip

    def _sender_allowed(self, header: Header) -> bool:
        allowed = self.settings.allowed_senders
        if not allowed:
            return True
        application = header.sending_application or ""
        return application in allowed or f"{application}^{header.sending_facility or ''}" in allowed

    def _process(self, message: Hl7Message) -> ack.AckError | None:
        """Record the message; None when it was recorded (or is a repeat), else why not."""
        header = message.header
        try:
            mapped = map_message(message, self.settings.patient_refs, self.settings.zone)
        except UnsupportedMessage as error:
            raise Rejected(
                ack.AckError(error.error_code, error.code, error.text, "MSH", 9)
            ) from None
        except MessageRefused as error:
            return ack.AckError(
                error.error_code, error.code, error.text, error.segment, error.field
            )
        operator = message.value("EVN", 5)
        context = RequestContext(
            actor_id=f"hl7:{as_identifier(header.sending_application or 'unknown')}",
            actor_role=INTEGRATION,
            correlation_id=f"hl7-{uuid4()}",
            on_behalf_of=as_identifier(operator) if operator else None,
            source_system=source_system_of(header.sending_application, header.sending_facility),
            source_message_id=message_id_of(header.control_id),
        )
        visit_id = mapped.command.visit_id
        try:
            with self._visit_locks[visit_id.int % LOCK_STRIPES]:
                self.services.execute(mapped.command, context, target=visit_id)
        except VersionConflictError:
            # Still losing races to another writer (another process, the HTTP API) after the
            # retries: a transient fault, not a rule. AR, so the engine resends it later.
            raise Rejected(ack.AckError(
                "VERSION_CONFLICT", APPLICATION_RECORD_LOCKED,
                "the visit kept changing concurrently; resend the message later",
            )) from None  # fmt: skip
        except IdempotencyKeyReusedError as reused:
            text = "MSH-10 was used before by this sender for a different message"
            return ack.AckError(reused.code, DUPLICATE_KEY_IDENTIFIER, text, "MSH", 10)
        except DomainError as refusal:
            return ack.AckError(refusal.code, _hl7_code_of(refusal), str(refusal))
        return None

    # ---- replies -------------------------------------------------------------------------
    def _replies(
        self, header: Header, code: ack.ApplicationAckCode, error: ack.AckError | None,
        now: datetime,
    ) -> list[str]:  # fmt: skip
        control = _reply_id(header)
        if not ack.is_enhanced(header):
            return [ack.application_ack(header, code, control_id=control, error=error, now=now)]
        ok = code == "AA"
        accept = _ACCEPT_CODES[code]
        replies = []
        if ack.wants_accept_ack(header, ok):
            replies.append(
                ack.accept_ack(header, accept, control_id=control + "C", error=error, now=now)
            )
        # After a CR no application processing follows, so no application ACK: unless no
        # accept ACK was sent (MSH-15 NE), when the application ACK (AR) is the only word
        # the sender gets that its message was rejected.
        rejected_unsaid = accept == "CR" and not replies
        if (accept != "CR" or rejected_unsaid) and ack.wants_application_ack(header, ok):
            replies.append(
                ack.application_ack(header, code, control_id=control + "A", error=error, now=now)
            )
        return replies


_ACCEPT_CODES: dict[ack.ApplicationAckCode, ack.AcceptAckCode] = {
    "AA": "CA", "AE": "CE", "AR": "CR",
}  # fmt: skip


def _hl7_code_of(refusal: DomainError) -> int:
    """Table 0357 for a refusal: the record it names is unknown (a transfer before its
    admission) or taken, a value is wrong, or a rule of ours said no (207)."""
    if isinstance(refusal, NotFoundError):
        return UNKNOWN_KEY_IDENTIFIER
    if isinstance(refusal, AlreadyExistsError):
        return DUPLICATE_KEY_IDENTIFIER
    if isinstance(refusal, DomainValidationError | CommandValidationError | TimestampOrderError):
        return DATA_TYPE_ERROR
    return APPLICATION_INTERNAL_ERROR


def _reply_id(header: Header) -> str:
    """The ACK's MSH-10: derived from the sender and its MSH-10, so a resend gets an ACK
    with the same control id as the first (19 characters: room for a C/A suffix in the
    20 that v2.3's ST allows)."""
    name = f"{header.sending_application}|{header.sending_facility}|{header.control_id}"
    return hashlib.sha256(name.encode()).hexdigest()[:19].upper()


def _new_id() -> str:
    return uuid4().hex[:19].upper()


def _charset_of(text: str) -> str | None:
    return salvage_header(text).character_set

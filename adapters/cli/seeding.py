"""``seed``: a realistic hospital day, recorded through the application's command path.

Each step of the plan (:mod:`adapters.cli.seed_plan`) goes through ``PatientServices.execute``
as an HTTP request's command would: the role the API would act with, a request context, and
an idempotency identity. The identity's key is the step's fixed name, in a scope of its own
(``seed``), and its fingerprint covers only what names the request (the key, the command
type and the target), not the times, which are relative to each run's "now". So a second
run, the same day or any later one, is a replay of every step: the application answers with
the first result and records nothing, and the command says how many it skipped.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO
from uuid import UUID, uuid4

from adapters.cli.help import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Commands, command
from adapters.cli.seed_plan import SEED_ROLES, Step, seed_day
from adapters.cli.serving import migrate_tables
from adapters.progress import ProgressDisplay
from adapters.settings import Settings
from application.service import CommandResult, PatientServices
from application.shared.commands import Creation
from application.shared.context import RequestContext
from application.shared.idempotency import CommandIdentity
from application.shared.permissions import acting_role
from domain.shared.errors import DomainError

#: The idempotency scope of the seed's steps: apart from every user's and feed's keys.
SEED_SCOPE = "seed"
#: How the summary names what each kind of subject's creation recorded.
_KINDS = {"visit": "visits", "complaint": "complaints", "budget": "budget lines"}


def add_seed(commands: Commands) -> None:
    seed = command(
        commands,
        "seed",
        "fill the store with a realistic hospital day (demo data)",
        """
        Records a day of a fictional hospital through the same commands the HTTP API
        takes: visits on the ED, the acute medical unit (AMU), a surgical ward (SURG-7) and
        an outpatient clinic (OPD) in every state of a visit's lifecycle, with waits past 4
        and 12 hours and patients boarding; complaints at every stage, one overdue and one
        nearly due; and five budget lines of this fiscal year with requisitions, orders,
        invoices and forecasts. Times are relative to now, so the flow board looks live.

        Every step has a fixed name, which is its idempotency key: running seed again records
        nothing and says how many commands it skipped, the same day or any later one. For a
        fresh day, seed a new store.

        The steps are recorded as the actor seed (and seed-approver for the complaint
        responses it approves: an approval needs a second person). Patients and staff are
        opaque seed- references and the texts are fictional. A progress bar on stderr shows
        how far it is; then a summary counts what was recorded. Set LOG_LEVEL=WARNING to
        see only the bar and the summary.
        """,
        [
            (EXIT_OK, "seeded (or already seeded: nothing recorded)"),
            (EXIT_FAILED, "a step was refused, or the database cannot be reached"),
            (EXIT_USAGE, "usage or configuration error"),
        ],
    )
    seed.set_defaults(run=_seed)


class StepRefusedError(Exception):
    """A step of the plan was refused: the store holds something the plan did not expect
    (a budget line of the same key created by hand, say)."""

    def __init__(self, step: Step, error: DomainError) -> None:
        super().__init__(f"step {step.key} was refused: {error.code}: {error.message}")


@dataclass
class Tally:
    recorded: int = 0
    skipped: int = 0
    #: Subjects created by this run, by kind (``visit``, ``complaint``, ``budget``).
    created: Counter[str] = field(default_factory=Counter)

    def add(self, step: Step, result: CommandResult) -> None:
        if result.replayed:
            self.skipped += 1
            return
        self.recorded += 1
        if result.created:
            self.created[step.subject.partition(":")[0]] += 1

    def summary(self) -> str:
        if not self.recorded:
            return f"seed: already seeded: {self.skipped} commands skipped, nothing recorded"
        kinds = [f"{self.created[kind]} {name}" for kind, name in _KINDS.items()]
        line = f"seed: recorded {', '.join(kinds[:-1])} and {kinds[-1]} ({self.recorded} commands)"
        if self.skipped:
            line += f"; {self.skipped} commands skipped, recorded before"
        return line


def identity_of(step: Step, target: UUID | None) -> CommandIdentity:
    """The step's idempotency identity: the same on every run (see the module's docstring)."""
    fingerprint = CommandIdentity.fingerprint_of(
        SEED_SCOPE, step.key, type(step.command).__name__, str(target)
    )
    return CommandIdentity(scope=SEED_SCOPE, key=step.key, fingerprint=fingerprint)


def run_steps(
    services: PatientServices, steps: Sequence[Step], advance: Callable[[], None]
) -> Tally:
    """Each step in order, through the application. A subject's later steps act on the id
    its creation answered with (the first run's, on a replay)."""
    correlation_id = f"seed-{uuid4()}"
    ids: dict[str, UUID] = {}
    tally = Tally()
    for step in steps:
        target = None if isinstance(step.command, Creation) else ids[step.subject]
        context = RequestContext(
            actor_id=step.actor,
            actor_role=acting_role(SEED_ROLES, step.command),
            correlation_id=correlation_id,
        )
        try:
            result = services.execute(
                step.command, context, target=target, identity=identity_of(step, target)
            )
        except DomainError as error:
            raise StepRefusedError(step, error) from error
        ids[step.subject] = result.id
        tally.add(step, result)
        advance()
    return tally


class SeedProgress(ProgressDisplay):
    """``advance`` after each command of the ``total``."""

    def __init__(self, stream: TextIO, total: int) -> None:
        super().__init__(stream, unit="commands", label="seed:")
        self.total = total
        self.done = 0

    def advance(self) -> None:
        self.done += 1
        self.show(self.done, self.total)


def _seed(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.composition import open_services
    from adapters.logging import configure_logging

    configure_logging(settings)
    migrate_tables(settings)
    services = open_services(settings)
    try:
        plan = seed_day(services.clock(), services.policies)
        with SeedProgress(sys.stderr, len(plan.steps)) as progress:
            tally = run_steps(services, plan.steps, progress.advance)
    except StepRefusedError as refused:
        print(f"patient-services: seed: {refused}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        services.close()
    print(tally.summary())
    return EXIT_OK

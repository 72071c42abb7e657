"""The facility's policies every command may consult, in one value.

The application holds one :class:`Policies` (built from settings in the composition root)
and passes it to each command. What a command decides from it (a due date, a late
cancellation, the tier that approved an amendment) is stored in the event, so replay never
consults a policy again and a later change of policy never changes history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.budget.policy import BudgetRules
from domain.complaints.policy import ComplaintRules
from domain.visits.vocabulary import VisitPolicy


@dataclass(frozen=True)
class Policies:
    visit: VisitPolicy = field(default_factory=VisitPolicy)
    complaints: ComplaintRules = field(default_factory=ComplaintRules)
    budget: BudgetRules = field(default_factory=BudgetRules)

"""The words a ComplaintCase speaks: states, codes and the NPSA risk matrix (domain-spec §2)."""

from __future__ import annotations

RECEIVED = "received"
ACKNOWLEDGED = "acknowledged"
UNDER_INVESTIGATION = "under_investigation"
AWAITING_INFORMATION = "awaiting_information"
RESPONSE_DRAFTED = "response_drafted"
RESPONSE_SENT = "response_sent"
CLOSED = "closed"
WITHDRAWN = "withdrawn"

STATES = (
    RECEIVED, ACKNOWLEDGED, UNDER_INVESTIGATION, AWAITING_INFORMATION, RESPONSE_DRAFTED,
    RESPONSE_SENT, CLOSED, WITHDRAWN,
)  # fmt: skip
#: A closed case can only be reopened (or referred externally); a withdrawn one is final.
FINAL_STATES = frozenset({CLOSED, WITHDRAWN})
OPEN_STATES = frozenset(STATES) - FINAL_STATES
#: States in which the case is still being worked towards its final response.
BEFORE_RESPONSE = frozenset(
    {RECEIVED, ACKNOWLEDGED, UNDER_INVESTIGATION, AWAITING_INFORMATION, RESPONSE_DRAFTED}
)

CHANNELS = ("verbal", "written", "email", "portal")
KINDS = ("concern_resolved_on_spot", "complaint", "grievance")
CONCERN_RESOLVED_ON_SPOT = "concern_resolved_on_spot"
UPHELD_VALUES = ("yes", "partly", "no")
EXTERNAL_BODIES = ("QIO", "state_agency", "PHSO", "accreditor")

US_CMS = "us-cms"
NHS_ENGLAND_2009 = "nhs-england-2009"
POLICY_NAMES = (US_CMS, NHS_ENGLAND_2009)

#: The deadlines a case runs against, as SlaBreached names them.
ACKNOWLEDGEMENT = "acknowledgement"
RESPONSE = "response"
DEADLINE_KINDS = (ACKNOWLEDGEMENT, RESPONSE)

#: The role whose sign-off an extreme-risk response needs.
EXECUTIVE_ROLE = "executive"

# ---- NPSA risk matrix: consequence 1–5 × likelihood 1–5 --------------------------------
LOW, MODERATE, HIGH, EXTREME = "low", "moderate", "high", "extreme"
GRADES = (LOW, MODERATE, HIGH, EXTREME)


def risk_grade(consequence: int, likelihood: int) -> tuple[int, str]:
    """The score and its band: low 1–3, moderate 4–6, high 8–12, extreme 15–25 (the
    products 7, 11, 13 and 14 cannot occur on a 5 × 5 matrix)."""
    if not (1 <= consequence <= 5 and 1 <= likelihood <= 5):
        raise ValueError("consequence and likelihood are 1 to 5")
    score = consequence * likelihood
    if score <= 3:
        return score, LOW
    if score <= 6:
        return score, MODERATE
    if score <= 12:
        return score, HIGH
    return score, EXTREME

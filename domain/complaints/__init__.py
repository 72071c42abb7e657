"""The complaints context: a complaint case from receipt to closure, within its statutory
deadlines.

:mod:`~domain.complaints.case` holds the aggregate, ComplaintCase, with its events. Its rules
are pure functions over the case's facts (:mod:`~domain.complaints.facts`), one per command:
what a command is given (:mod:`~domain.complaints.checks`), which status allows a step and in
what order (:mod:`~domain.complaints.lifecycle`), the response's draft, approval and checklist
(:mod:`~domain.complaints.responses`), the external referrals
(:mod:`~domain.complaints.referrals`) and the deadlines (:mod:`~domain.complaints.deadlines`).
The words it speaks are in :mod:`~domain.complaints.vocabulary`, the policies it follows in
:mod:`~domain.complaints.policy`.
"""

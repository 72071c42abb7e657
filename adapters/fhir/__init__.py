"""FHIR out: a PatientVisit as FHIR R4 (R4B-shaped) and R5 JSON, as plain dicts.

Pure functions, no I/O and no web framework: :mod:`adapters.http.fhir` serves what they
build. One module per resource (``encounter_r4``, ``encounter_r5``, ``appointment``,
``encounter_history``, ``capability``, ``outcome``, ``bundle``), ``search`` what a search's
parameters ask for and ``releases`` the two versions served; ``common`` holds the
identifier systems, references and codings they share, ``statuses`` how our visit states map
onto each version's codes, and ``history`` the states a visit went through, read from its
events. Only identifiers leave the service: the opaque ``patientRef`` names the patient,
never anything else of them.
"""

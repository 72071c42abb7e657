"""The commands of the patient-visit context and how each runs against a PatientVisit."""

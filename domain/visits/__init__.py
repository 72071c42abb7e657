"""The patient-visit context: a visit from booking or arrival to discharge (FHIR Encounter, HL7 v2
ADT/SIU).
"""

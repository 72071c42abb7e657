"""Erasure of a data subject's personal free text, and its certificate."""

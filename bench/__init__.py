"""Benchmarks: one command each, printing figures. Not tests: nothing here asserts speed."""

"""Accord's pages. Thin: they check who may see and do what, then call the selectors and the
verbs of ``workflows.services``."""

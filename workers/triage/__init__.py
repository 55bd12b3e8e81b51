"""Triage: the report model, grounding, evidence-only hypotheses, novelty and the board."""

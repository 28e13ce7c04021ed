"""Retention: the DPIA's retention policy as code, the sweep that carries it out, and its ledger."""

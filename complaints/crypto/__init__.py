"""Envelope encryption: key stores, per-case data keys in key slots, blind indexes."""

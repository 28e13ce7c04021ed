"""Anonymized statistics: stat events that never link back to a case."""

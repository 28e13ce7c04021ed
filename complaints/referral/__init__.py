"""Referral to another route with the complainant's consent, and filing on someone's behalf."""

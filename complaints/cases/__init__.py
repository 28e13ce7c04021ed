"""Cases: the encrypted case record, its parties, access grants and history.

Intake creates cases and casework moves them; both go through this package's services, which
are the only code that decrypts case content (after checking a grant, and recording it).
"""

"""The committee procedure: members, exclusion, hearings, advice, decision and letters."""

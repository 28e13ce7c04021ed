"""Check-ins against retaliation: questions to the complainant in the months after closing."""

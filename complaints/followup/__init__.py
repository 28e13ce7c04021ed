"""The complainant's follow-up mailbox, opened with the receipt code."""

"""The help page at /hulp: the ways to report, what happens next, how long it takes, and who
can help (the confidential counsellors from the directory, and outside bodies)."""

"""Filing a report: the guided form, the review step and the submission."""

"""Routes, states and statutory deadlines, from ``config/workflow.toml``."""

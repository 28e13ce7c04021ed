"""A demo organisation for development: a few ministries, ~30 people, every role."""

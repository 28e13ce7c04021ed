"""E-mail notifications: an outbox written in the transaction, sent after it commits."""

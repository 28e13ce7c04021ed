"""The audit log: hash-chained, HMAC-keyed records of who did what to which object."""

"""Staff accounts: roles, password + TOTP log-in, and server-side sessions."""

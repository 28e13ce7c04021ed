"""Moving a handler's open cases to another eligible handler."""

"""The handlers' workspace: the inbox, the case view, messages, notes and state changes."""

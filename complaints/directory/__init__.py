"""The organisation directory: org units (a tree) and the people in them."""

"""Admin for tokens."""

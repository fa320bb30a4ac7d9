"""Admin for workers."""

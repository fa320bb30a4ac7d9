"""Admin for schedules."""

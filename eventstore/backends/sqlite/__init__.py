"""SQLite's backend (development and the quick test pass), and the functions its triggers call."""

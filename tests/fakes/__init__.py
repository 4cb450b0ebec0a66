"""In-process twins of remote boundaries, for tests only (never imported by the package)."""

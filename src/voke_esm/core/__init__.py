"""Infrastructure every side shares: settings, database, errors, security. Imports no domain."""

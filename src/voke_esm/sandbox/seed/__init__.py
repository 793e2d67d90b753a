"""`voke-esm serve --seed FILE` (CONTRACT §13): a team's sandbox state, kept in its repository."""

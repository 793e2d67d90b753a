"""Sandbox tools for the people who test against the sandbox (CONTRACT §11): the journal of
trading calls, fault injection, short-lived tokens, and snapshot, restore and reset of plants."""

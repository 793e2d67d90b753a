"""Voke's own side: users, orgs, plants, and its ESM client (reaching the sandbox by HTTP only)."""

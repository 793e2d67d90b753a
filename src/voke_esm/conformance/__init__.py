"""`voke-esm conformance`: check any ESM, the sandbox or a partner's, against CONTRACT §2, §5 and
§6 (§14). Voke's side: it reaches the ESM over HTTP only, through Voke's own ESM client, and never
imports the sandbox (import-linter)."""

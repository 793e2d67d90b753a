"""One repository module per sandbox table; each holds every query and write of its table.

- `clients`: voke_esm_clients
- `plants`: voke_esm_plants (the admin list's JSON built in SQL included)
- `config_updates`: voke_esm_config_updates
- `org_states`: voke_esm_org_states (the clock, fault rules, token lifetime, telemetry lease)
- `journal`: voke_esm_journal (the trading path's batch writer and the admin tools' reads)

The lock order all writers follow is `sandbox/locks.py`. The trading hot path's prebuilt
statements and caller query are in `sandbox/repository.py` for now. None of them commits: the
request (or the `session_scope` of a job) owns the transaction.
"""

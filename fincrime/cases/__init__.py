"""Casework: users and access, alerts from finished jobs, their triage, cases and reports.

``db`` (the database and its audit trail) -> ``users`` (roles, passwords, tokens, sessions) ->
``alerts`` (the triage workflow) -> ``casefile`` (cases) -> ``export`` (goAML STR, bundle);
``ingest`` turns a finished job's findings into alerts.
"""

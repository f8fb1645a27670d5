"""The auditors' review queue: a store of scored flags, a web app to decide them, an export.

Data flows one way: ``score`` writes scored JSON Lines -> :mod:`.load` upserts them into the
store (:mod:`.models`, migrated by Alembic) -> auditors decide flags in the web app
(:mod:`.app`) -> :mod:`.export` writes the decided incidents back in the corpus format.
"""

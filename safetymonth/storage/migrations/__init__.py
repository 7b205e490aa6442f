"""Alembic migrations of the store's database; :func:`safetymonth.storage.database.upgrade`
runs them. Add a revision with ``alembic -c safetymonth/storage/migrations/alembic.ini
revision -m "what"``; never edit a released one."""

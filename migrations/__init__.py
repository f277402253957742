"""The schema's revisions (Alembic): env.py, alembic.ini and versions/, shipped as data."""

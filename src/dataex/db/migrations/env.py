"""Alembic environment: runs against the engine the node hands over in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from dataex.db.models import Base, include_name

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection, target_metadata=Base.metadata, render_as_batch=True, include_name=include_name
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()

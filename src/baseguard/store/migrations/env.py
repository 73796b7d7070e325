"""Alembic environment: run on the connection baseguard hands over (see ``__init__.py``).

Used without a connection (``alembic`` run by hand with ``-x url=…`` to write a new
revision), it opens the URL the way :func:`baseguard.store.open_store` would.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from baseguard.store.models import Base
from baseguard.store.url import resolve_url


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if isinstance(given, Connection):
    run(given)
else:
    url = context.get_x_argument(as_dictionary=True).get("url")
    engine = create_engine(resolve_url(url))
    with engine.begin() as conn:
        run(conn)
    engine.dispose()

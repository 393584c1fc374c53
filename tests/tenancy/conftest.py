from __future__ import annotations

import pytest

from computemoat.store import Database, open_database
from computemoat.store.testing import BACKENDS, PostgresUnavailable, fresh_database_url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path):  # type: ignore[no-untyped-def]
    try:
        with fresh_database_url(request.param, tmp_path) as url:
            yield url
    except PostgresUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture
def db(db_url: str):  # type: ignore[no-untyped-def]
    database: Database = open_database(db_url)
    yield database
    database.dispose()

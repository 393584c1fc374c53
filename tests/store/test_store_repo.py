from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from computemoat.model.errors import UserError
from computemoat.store import open_database, repo
from computemoat.store.db import downgrade, normalize_url
from computemoat.store.errors import ConflictError, NotFoundError
from computemoat.store.keys import KEY_PREFIX, hash_key
from computemoat.store.limits import Limits, Scope, get_limits, set_limits
from computemoat.store.schema import ApiKey, Base


def test_migrations_match_models_and_downgrade_cleanly(db, db_url):
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    downgrade(db, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    open_database(db_url).dispose()  # a second process starting later migrates again
    assert "usage_records" in inspect(db.engine).get_table_names()


def test_key_is_stored_only_as_hash_and_maps_to_its_tenant(db):
    repo.create_tenant(db, "acme")
    repo.create_tenant(db, "globex")
    a = repo.create_key(db, "acme", name="ci")
    g = repo.create_key(db, "globex")
    assert a.api_key.startswith(KEY_PREFIX) and len(a.api_key) >= 40
    with db.engine.connect() as conn:
        stored = conn.execute(select(ApiKey.key_sha256, ApiKey.prefix).where(ApiKey.id == a.key_id)).one()
    assert stored.key_sha256 == hash_key(a.api_key) and a.api_key not in stored
    assert repo.lookup_key(db, a.api_key) == repo.KeyMatch("acme", a.key_id, None)
    assert repo.lookup_key(db, g.api_key) == repo.KeyMatch("globex", g.key_id, None)
    assert repo.lookup_key(db, a.api_key + "x") is None
    assert repo.lookup_key(db, "") is None


def test_revoked_key_and_disabled_tenant_stop_authenticating(db):
    repo.create_tenant(db, "acme")
    k1 = repo.create_key(db, "acme")
    k2 = repo.create_key(db, "acme")
    repo.revoke_key(db, k1.key_id)
    assert repo.lookup_key(db, k1.api_key) is None
    assert repo.lookup_key(db, k2.api_key) == repo.KeyMatch("acme", k2.key_id, None)
    assert [k.revoked for k in repo.list_keys(db, "acme")] == [True, False]
    repo.disable_tenant(db, "acme")
    assert repo.lookup_key(db, k2.api_key) is None
    (info,) = repo.list_tenants(db)
    assert info.disabled and info.active_keys == 1


def test_bad_input_names_the_field(db):
    with pytest.raises(UserError, match="tenant id 'Bad Id!' is invalid"):
        repo.create_tenant(db, "Bad Id!")
    repo.create_tenant(db, "acme")
    with pytest.raises(ConflictError, match="already exists"):
        repo.create_tenant(db, "acme")
    with pytest.raises(NotFoundError, match="tenant 'nope' does not exist"):
        repo.create_key(db, "nope")
    with pytest.raises(NotFoundError, match="key 'key_0' does not exist"):
        repo.revoke_key(db, "key_0")
    with pytest.raises(UserError, match="rpm must be a whole number from 1"):
        set_limits(db, Scope("acme"), rpm=0)
    with pytest.raises(UserError, match="usd_per_mtok_prompt must be a finite number >= 0"):
        repo.set_price(db, "m", "p", -1.0, 1.0)


def test_limits_set_partially_and_removed_with_none(db):
    repo.create_tenant(db, "acme")
    acme = Scope("acme")
    assert set_limits(db, acme, rpm=100) == Limits(100, None, None)
    assert set_limits(db, acme, tpm=5000, budget_usd=20.0) == Limits(100, 5000, 20.0)
    assert set_limits(db, acme, rpm=None) == Limits(None, 5000, 20.0)
    assert get_limits(db, acme) == Limits(None, 5000, 20.0)
    assert set_limits(db, acme, tpm=None, budget_usd=None) == Limits()
    (info,) = repo.list_tenants(db)
    assert info.limits == Limits()


def test_url_normalisation_and_rejections():
    assert normalize_url("postgresql://u@h/db").startswith("postgresql+psycopg://u@h/db")
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
    for bad, msg in (("x.db", "is not a database URL"), ("sqlite://", "in-memory"),
                     ("mysql://u@h/db", "unsupported database")):
        with pytest.raises(UserError, match=msg):
            normalize_url(bad)

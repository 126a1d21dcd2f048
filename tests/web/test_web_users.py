"""The users file: argon2id hashes, file mode, roles; and the trusted-header sign-in mode."""

from __future__ import annotations

import json
import stat

import pytest
from argon2 import PasswordHasher
from conftest import AS_OF, Served

from web.settings import WebSettings
from web.users import UsersError, add_user, authenticate, load_users


def test_passwords_are_stored_as_argon2id_hashes_only(tmp_path):
    path = tmp_path / "users.json"
    add_user(path, "ann", "planner", "correct horse battery")
    text = path.read_text()
    assert "correct horse battery" not in text
    stored = json.loads(text)["users"][0]["password_hash"]
    assert stored.startswith("$argon2id$")
    # checked with argon2-cffi's own verifier, independently of web.users
    assert PasswordHasher().verify(stored, "correct horse battery")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = load_users(path)
    assert authenticate(users, "ann", "correct horse battery").role == "planner"
    assert authenticate(users, "ann", "Correct horse battery") is None
    assert authenticate(users, "nobody", "correct horse battery") is None


@pytest.mark.parametrize(
    ("name", "role", "password", "dealer", "message"),
    [
        ("ann", "admin", "long enough", None, "role 'admin'"),
        ("ann b", "planner", "long enough", None, "contains spaces"),
        ("ann", "planner", "short", None, "at least 8"),
        ("dora", "dealer", "long enough", None, "needs --dealer"),
        ("ann", "planner", "long enough", "D001", "only for role dealer"),
    ],
)
def test_bad_users_are_refused_with_a_reason(tmp_path, name, role, password, dealer, message):
    with pytest.raises(UsersError, match=message):
        add_user(tmp_path / "users.json", name, role, password, dealer_id=dealer)
    assert not (tmp_path / "users.json").exists()


def test_trusted_header_mode_takes_the_user_from_the_proxy(run_out, users_file):
    settings = WebSettings(
        out=run_out, users_file=users_file, secret_key="k", trusted_header="X-Forwarded-User"
    )
    with Served(settings) as served, served.client() as client:
        assert client.get("/api/runs").status_code == 401
        assert client.get("/api/runs", headers={"X-Forwarded-User": "mallory"}).status_code == 401
        as_ann = {"X-Forwarded-User": "ann"}
        session = client.get("/api/session", headers=as_ann).json()
        assert session["user"] == "ann" and session["role"] == "planner"
        line = client.get(f"/api/runs/{AS_OF}/lines", headers=as_ann).json()["lines"][0]
        path = f"/api/runs/{AS_OF}/lines/{line['dealer_id']}/{line['sku']}"
        assert (
            client.patch(path, json={"version": 0, "hold": True}, headers=as_ann).status_code == 403
        )
        token = {"X-CSRF-Token": session["csrf_token"], **as_ann}
        assert (
            client.patch(path, json={"version": 0, "hold": True}, headers=token).status_code == 200
        )
        as_vic = {"X-Forwarded-User": "vic"}
        vic = client.get("/api/session", headers=as_vic).json()
        answer = client.patch(
            path,
            json={"version": 1, "hold": False},
            headers={"X-CSRF-Token": vic["csrf_token"], **as_vic},
        )
        assert answer.status_code == 403

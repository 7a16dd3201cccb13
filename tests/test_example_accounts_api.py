"""The web API of examples/accounts_api.py, through FastAPI's test client and uvicorn,
on every selected database."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from examples import accounts, accounts_api
from examples.accounts import User
from examples.sqlite_transactions import take_over_sqlite_transactions

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"


@pytest.fixture
def engine(engine):
    """The programs' engine: on SQLite, SQLAlchemy begins transactions, as savepoints need."""
    return take_over_sqlite_transactions(engine)


@pytest.fixture(scope="module")
def stored_hash() -> str:
    """``PASSWORD`` hashed once for the module, at the service's own cost."""
    return accounts.hash_password(PASSWORD)


@pytest.fixture
def client(engine, stored_hash):
    """The API on a database where Ada and Bob have accounts (ids 1 and 2)."""
    accounts.Base.metadata.create_all(engine)
    with Session(engine) as session:
        for email, name in [("ada@acme.test", "Ada"), ("bob@acme.test", "Bob")]:
            session.add(User(email=email, display_name=name, password_hash=stored_hash))
        session.commit()
    with TestClient(accounts_api.create_app(engine)) as client:
        yield client


def test_each_request_has_a_session_of_its_own_closed_when_it_ends(client, engine):
    began = []

    def record(session, transaction, connection) -> None:
        began.append(session)

    event.listen(Session, "after_begin", record)
    try:
        answers = [client.get(f"/users/{user_id}").status_code for user_id in (1, 2, 1, 99)]
    finally:
        event.remove(Session, "after_begin", record)
    assert answers == [200, 200, 200, 404]
    assert len({id(session) for session in began}) == 4
    assert not any(session.in_transaction() for session in began)
    assert engine.pool.checkedout() == 0


def test_a_user_is_shown_without_the_password_hash(client):
    response = client.get("/users/1")
    assert response.status_code == 200
    assert response.json() == {"id": 1, "email": "ada@acme.test", "display_name": "Ada"}


def test_a_missing_user_is_404(client):
    for method, path, body in [
        ("GET", "/users/99", None),
        ("PATCH", "/users/99", {"display_name": "Nobody"}),
        ("PUT", "/users/99/password", {"current_password": PASSWORD, "new_password": "x" * 12}),
    ]:
        response = client.request(method, path, json=body)
        assert (response.status_code, response.json()) == (
            404,
            {"detail": "there is no user with id 99"},
        ), (method, path)


def test_patch_changes_only_the_fields_sent(client, engine):
    response = client.patch("/users/1", json={"display_name": "Ada Lovelace"})
    assert response.status_code == 200
    assert response.json()["email"] == "ada@acme.test"
    response = client.patch("/users/1", json={"email": " ADA.L@acme.test"})
    assert response.json() == {"id": 1, "email": "ada.l@acme.test", "display_name": "Ada Lovelace"}
    assert client.patch("/users/1", json={}).json()["display_name"] == "Ada Lovelace"
    with Session(engine) as session:
        stored = session.execute(select(User.email, User.display_name).order_by(User.id))
        assert stored.all() == [
            ("ada.l@acme.test", "Ada Lovelace"),
            ("bob@acme.test", "Bob"),
        ]


def test_a_duplicate_email_is_409(client, engine):
    response = client.patch("/users/1", json={"email": "BOB@acme.test", "display_name": "X"})
    assert (response.status_code, response.json()) == (
        409,
        {"detail": "an account with the email bob@acme.test already exists"},
    )
    response = client.post(
        "/users", json={"email": "bob@acme.test", "display_name": "Bob", "password": PASSWORD}
    )
    assert response.status_code == 409
    with Session(engine) as session:
        assert session.scalars(select(User.display_name).order_by(User.id)).all() == ["Ada", "Bob"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "/users/1", {"display_name": None}, ["body", "display_name"]),
        ("PATCH", "/users/1", {"password_hash": "$scrypt$..."}, ["body", "password_hash"]),
        ("PATCH", "/users/1", {"email": "x" * 255}, ["body", "email"]),
        (
            "POST",
            "/users",
            {"email": "cy@acme.test", "password": PASSWORD},
            ["body", "display_name"],
        ),
        ("POST", "/login", {"email": "ada@acme.test"}, ["body", "password"]),
        ("GET", "/users/one", None, ["path", "user_id"]),
    ],
)
def test_malformed_requests_are_422_naming_the_field(client, method, path, body, field):
    response = client.request(method, path, json=body)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [field]


def test_input_the_service_refuses_is_422_with_its_sentence(client):
    body = {"email": "cy.acme.test", "display_name": "Cy", "password": PASSWORD}
    response = client.post("/users", json=body)
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "'cy.acme.test' is not an email address"},
    )
    response = client.put(
        "/users/1/password", json={"current_password": PASSWORD, "new_password": "short"}
    )
    assert response.status_code == 422


def test_a_failed_login_is_the_same_401_for_an_unknown_email_and_a_wrong_password(client):
    wrong = client.post("/login", json={"email": "ada@acme.test", "password": "wrong one!"})
    unknown = client.post("/login", json={"email": "cy@acme.test", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong email or password"}
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"


def test_changing_the_password_needs_the_current_one(client):
    body = {"current_password": "not it at all", "new_password": "a new passphrase"}
    response = client.put("/users/1/password", json=body)
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "the current password is not right"},
    )
    body["current_password"] = PASSWORD
    response = client.put("/users/1/password", json=body)
    assert (response.status_code, response.content) == (204, b"")
    response = client.post("/login", json={"email": "ada@acme.test", "password": PASSWORD})
    assert response.status_code == 401


def test_the_factory_refuses_a_bad_url_in_one_sentence(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "nosuchdatabase://somewhere/x")
    with pytest.raises(SystemExit) as stopped:
        accounts_api.app_from_environment()
    assert str(stopped.value) == (
        "examples.accounts_api: nosuchdatabase://somewhere/x names a database or driver that "
        "SQLAlchemy does not know (nosuchdatabase); use sqlite, postgresql+psycopg or "
        "mysql+pymysql."
    )
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(SystemExit, match="set DATABASE_URL to the database URL"):
        accounts_api.app_from_environment()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_uvicorn_serves_it_on_the_database_of_database_url(database_url):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "examples.accounts_api:app_from_environment"]
        + ["--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/users/1", timeout=5)  # noqa: S310
            except urllib.error.HTTPError as answer:
                assert (answer.code, answer.read()) == (
                    404,
                    b'{"detail":"there is no user with id 1"}',
                )
                break
            except urllib.error.URLError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "uvicorn did not answer within a minute"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()

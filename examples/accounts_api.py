"""The account service behind a small web API, with FastAPI.

The functions of ``examples.accounts`` do the work; this module only turns
HTTP requests into calls of them and their answers into HTTP responses:

- each request gets a ``Session`` of its own from a dependency, closed when
  the request is over, so no session is ever shared between requests or the
  threads that serve them; the handler of a request that writes commits, and
  anything it did not commit is rolled back when the session closes;
- requests and responses are Pydantic models: an ORM object is never handed
  to the JSON encoder, which could not serialise it, and a response shows
  only the fields its model names (never the password hash);
- ``PATCH /users/{id}`` changes only the fields the request sent;
- each refusal of the service has its HTTP status: 422 for input it does not
  accept, 409 for an email address another account has, 404 for a user that
  does not exist, 401 for a failed login, and 403 for a wrong current password.

Serve it with uvicorn on the database ``DATABASE_URL`` names (the tables are
created if they are missing):

    DATABASE_URL=sqlite:///accounts.db uvicorn --factory examples.accounts_api:app_from_environment

``main()`` makes a few requests through FastAPI's test client instead, and
prints the answers.
"""

# --8<-- [start:imports]
import os
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine
from sqlalchemy.orm import Session

# --8<-- [end:imports]
from examples.accounts import (
    AccountError,
    Base,
    EmailTaken,
    InvalidInput,
    NoSuchUser,
    WrongPassword,
    authenticate,
    change_password,
    get_user,
    sign_up,
    update_profile,
)


# --8<-- [start:schemas]
class SignUpRequest(BaseModel):
    """What ``POST /users`` reads: a new account's details."""

    email: str = Field(max_length=254)
    display_name: str = Field(max_length=100)
    password: str = Field(max_length=1024)


class LoginRequest(BaseModel):
    """What ``POST /login`` reads."""

    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class ProfileChanges(BaseModel):
    """What ``PATCH /users/{id}`` reads: any of the fields, each left out or given."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=254)
    display_name: str | None = Field(default=None, max_length=100)

    @field_validator("email", "display_name")
    @classmethod
    def _given_not_null(cls, value: str | None) -> str:
        # Left out means "keep it"; null would mean "remove it", which no field allows.
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


class PasswordChange(BaseModel):
    """What ``PUT /users/{id}/password`` reads."""

    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class UserResponse(BaseModel):
    """A user as the API shows one: read from the ORM object's attributes."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str


# --8<-- [end:schemas]


# --8<-- [start:session]
def get_session(request: Request) -> Iterator[Session]:
    """A session for one request, closed when the request is over."""
    with Session(request.app.state.engine) as session:
        yield session


SessionDependency = Annotated[Session, Depends(get_session)]

#: The HTTP status of each refusal of the account service.
STATUS_OF = {
    InvalidInput: status.HTTP_422_UNPROCESSABLE_CONTENT,
    EmailTaken: status.HTTP_409_CONFLICT,
    NoSuchUser: status.HTTP_404_NOT_FOUND,
    WrongPassword: status.HTTP_403_FORBIDDEN,
}


def refused(request: Request, error: AccountError) -> JSONResponse:
    """The service's refusal as a response: its status, and its sentence as the detail."""
    return JSONResponse({"detail": str(error)}, status_code=STATUS_OF[type(error)])


# --8<-- [end:session]


# --8<-- [start:routes]
router = APIRouter()


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: SignUpRequest, session: SessionDependency) -> UserResponse:
    user = sign_up(session, body.email, body.display_name, body.password)
    answer = UserResponse.model_validate(user)  # read before the commit expires it
    session.commit()
    return answer


@router.get("/users/{user_id}")
def read_user(user_id: int, session: SessionDependency) -> UserResponse:
    return UserResponse.model_validate(get_user(session, user_id))


@router.patch("/users/{user_id}")
def change_profile(user_id: int, body: ProfileChanges, session: SessionDependency) -> UserResponse:
    # exclude_unset: only the fields the request sent, not every field with its default
    user = update_profile(session, user_id, **body.model_dump(exclude_unset=True))
    answer = UserResponse.model_validate(user)
    session.commit()
    return answer


@router.put("/users/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT)
def replace_password(user_id: int, body: PasswordChange, session: SessionDependency) -> Response:
    change_password(session, user_id, body.current_password, body.new_password)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/login", responses={401: {"description": "Wrong email or password"}})
def log_in(body: LoginRequest, session: SessionDependency) -> UserResponse:
    user = authenticate(session, body.email, body.password)
    if user is None:  # the same answer for an unknown email and a wrong password
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    answer = UserResponse.model_validate(user)
    session.commit()  # stores a hash made again at a raised cost
    return answer


def create_app(engine: Engine) -> FastAPI:
    """The web API, serving the accounts stored where ``engine`` points."""
    app = FastAPI(title="Accounts")
    app.state.engine = engine
    app.include_router(router)
    app.add_exception_handler(AccountError, refused)
    return app


# --8<-- [end:routes]


# --8<-- [start:main]
def main(engine: Engine) -> None:
    """Create the tables afresh, make requests through the test client, print the answers."""
    from fastapi.testclient import TestClient

    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    ada = {"email": "Ada@Acme.test", "display_name": "Ada", "password": "correct horse battery"}
    with TestClient(create_app(engine)) as client:
        for method, path, body in [
            ("POST", "/users", ada),
            ("POST", "/users", {**ada, "email": "ada@acme.test "}),
            ("POST", "/users", {**ada, "email": "bob@acme.test", "password": "short"}),
            ("POST", "/users", {"email": "bob@acme.test"}),
            ("GET", "/users/1", None),
            ("GET", "/users/99", None),
            ("PATCH", "/users/1", {"display_name": "Ada Lovelace"}),
            ("PATCH", "/users/1", {"display_name": None}),
            ("PATCH", "/users/99", {"display_name": "Nobody"}),
            ("POST", "/login", {"email": "ada@acme.test", "password": "correct horse battery"}),
            ("POST", "/login", {"email": "ada@acme.test", "password": "wrong horse battery"}),
            ("POST", "/login", {"email": "cy@acme.test", "password": "correct horse battery"}),
            ("PUT", "/users/1/password", {"current_password": "nope", "new_password": "a" * 12}),
        ]:
            response = client.request(method, path, json=body)
            answer = response.json() if response.content else None
            if isinstance(answer, dict) and isinstance(answer.get("detail"), list):
                # Pydantic's refusal: one entry per field, here its place and its message
                answer = [(" ".join(map(str, e["loc"])), e["msg"]) for e in answer["detail"]]
            print(f"{method} {path} -> {response.status_code} {answer}")


# --8<-- [end:main]


def app_from_environment() -> FastAPI:
    """The web API on the database ``DATABASE_URL`` names, for ``uvicorn --factory``.

    The tables are created if they are missing. A URL that cannot be used stops
    the server with one sentence.
    """
    from examples.command_line import BadDatabaseURL, engine_from_url

    url = os.environ.get("DATABASE_URL")
    try:
        if not url:
            raise BadDatabaseURL("set DATABASE_URL to the database URL, e.g. sqlite:///accounts.db")
        engine = engine_from_url(url)
    except BadDatabaseURL as error:
        raise SystemExit(f"examples.accounts_api: {error}.") from None
    Base.metadata.create_all(engine)
    return create_app(engine)


if __name__ == "__main__":
    import sys

    from examples.command_line import run

    sys.exit(run(main, "sqlite:///accounts.db"))

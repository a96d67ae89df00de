"""The session cookie: issued for a verified email, read back from a raw Cookie header."""

from __future__ import annotations

from ff_admin.auth import Session, issue_session, session_from_cookie_header
from ff_core import tokens

SECRET = b"s" * 32
NOW = 1_800_000_000.0


def test_issue_session__mixed_case_email__sub_is_lower_case_as_ff_api_expects() -> None:
    token = issue_session(SECRET, "Ada@Example.COM", "Ada", 3600, NOW)

    claims = tokens.verify(SECRET, tokens.Audience.SESSION, token, NOW)
    assert (claims["sub"], claims["name"], claims["exp"]) == ("ada@example.com", "Ada", NOW + 3600)


def test_session_from_cookie_header__valid_among_other_cookies__session() -> None:
    token = issue_session(SECRET, "ada@example.com", "Ada", 3600, NOW)
    header = f'theme=dark; other="a,b"; {tokens.SESSION_COOKIE}={token}; broken'

    session = session_from_cookie_header(SECRET, header, NOW + 10)

    assert session == Session(email="ada@example.com", name="Ada", expires_at=int(NOW) + 3600)


def test_session_from_cookie_header__no_name__name_none() -> None:
    token = issue_session(SECRET, "ada@example.com", None, 3600, NOW)

    session = session_from_cookie_header(SECRET, f"ff_session={token}", NOW)

    assert session is not None
    assert session.name is None


def test_session_from_cookie_header__expired__none() -> None:
    token = issue_session(SECRET, "ada@example.com", "Ada", 60, NOW)

    assert session_from_cookie_header(SECRET, f"ff_session={token}", NOW + 3600) is None


def test_session_from_cookie_header__other_secret__none() -> None:
    token = issue_session(b"o" * 32, "ada@example.com", "Ada", 3600, NOW)

    assert session_from_cookie_header(SECRET, f"ff_session={token}", NOW) is None


def test_session_from_cookie_header__token_of_another_audience__none() -> None:
    login = tokens.issue(SECRET, tokens.Audience.LOGIN, {"sub": "ada@example.com"}, 600, NOW)

    assert session_from_cookie_header(SECRET, f"ff_session={login}", NOW) is None


def test_session_from_cookie_header__subject_not_an_email__none() -> None:
    token = tokens.issue(SECRET, tokens.Audience.SESSION, {"sub": "ada"}, 600, NOW)

    assert session_from_cookie_header(SECRET, f"ff_session={token}", NOW) is None


def test_session_from_cookie_header__missing_or_garbage__none() -> None:
    assert session_from_cookie_header(SECRET, "", NOW) is None
    assert session_from_cookie_header(SECRET, "theme=dark", NOW) is None
    assert session_from_cookie_header(SECRET, "ff_session=not.a.jwt", NOW) is None

"""Who may sign in (pure claim checks), and ID-token verification against oidc-provider-mock
running for real over HTTP: tampered, misaddressed or replayed tokens are refused."""

from __future__ import annotations

import base64
import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authlib.deprecate import AuthlibDeprecationWarning

from ff_admin.auth.oidc import Identity, OidcClient, identity_from_claims
from ff_core.errors import Forbidden

with warnings.catch_warnings():
    # The mock provider still imports authlib.jose, which Authlib deprecates.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    import oidc_provider_mock

# The mock's token endpoint (in its server thread) calls an Authlib API that Authlib
# deprecates; warnings are process-wide, so let it through rather than fail its request.
pytestmark = pytest.mark.filterwarnings(
    "ignore:get_jwt_config\\(self, grant\\) is deprecated:DeprecationWarning"
)

CLIENT_ID = "ff-dashboard"
REDIRECT_URI = "http://127.0.0.1:3000/auth/callback"
NONCE = "nonce-0123456789"


def claims(**overrides: Any) -> dict[str, Any]:
    return {"email": "Ada@Example.com", "email_verified": True, "name": "Ada"} | overrides


def test_identity_from_claims__verified_email__lower_case_identity() -> None:
    assert identity_from_claims(claims(), []) == Identity("ada@example.com", "Ada")


def test_identity_from_claims__verified_as_string__accepted() -> None:
    assert identity_from_claims(claims(email_verified="true"), []).email == "ada@example.com"


@pytest.mark.parametrize("verified", [False, "false", None, 1])
def test_identity_from_claims__not_verified__refused(verified: object) -> None:
    with pytest.raises(Forbidden, match=r"has not verified Ada@Example\.com"):
        identity_from_claims(claims(email_verified=verified), [])


@pytest.mark.parametrize("email", [None, "", "ada", 42])
def test_identity_from_claims__no_email__refused(email: object) -> None:
    with pytest.raises(Forbidden, match="did not share your email"):
        identity_from_claims(claims(email=email), [])


@pytest.mark.parametrize(
    "allowed", [["example.com"], ["EXAMPLE.COM", "other.org"], ["@example.com"]]
)
def test_identity_from_claims__domain_allowed__any_case(allowed: list[str]) -> None:
    assert identity_from_claims(claims(), allowed).email == "ada@example.com"


@pytest.mark.parametrize(
    "email", ["ada@eng.example.com", "ada@example.com.evil.org", "ada@notexample.com"]
)
def test_identity_from_claims__domain_not_exactly_allowed__refused(email: str) -> None:
    with pytest.raises(Forbidden, match="may not sign in"):
        identity_from_claims(claims(email=email), ["example.com"])


def test_identity_from_claims__blank_name__none() -> None:
    assert identity_from_claims(claims(name=""), []).name is None


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with oidc_provider_mock.run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
async def id_token(provider: str) -> str:
    """A genuine ID token for CLIENT_ID with NONCE, through the mock's authorize form."""
    async with httpx.AsyncClient(timeout=10) as client:
        await client.put(
            f"{provider}/users/ada@example.com",
            json={"email": "ada@example.com", "email_verified": True},
        )
        authorize = httpx.URL(f"{provider}/oauth2/authorize").copy_merge_params(
            {
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid email",
                "state": "state",
                "nonce": NONCE,
            }
        )
        answer = await client.post(authorize, data={"sub": "ada@example.com"})
        code = httpx.URL(answer.headers["location"]).params["code"]
        token = await client.post(
            f"{provider}/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
            auth=(CLIENT_ID, "client-secret"),
        )
    value = token.json()["id_token"]
    assert isinstance(value, str)
    return value


def oidc(provider: str, client_id: str = CLIENT_ID) -> OidcClient:
    return OidcClient(provider, client_id, "client-secret", REDIRECT_URI)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unb64(segment: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


async def test_verify_id_token__genuine__claims(provider: str, id_token: str) -> None:
    verified = await oidc(provider).verify_id_token(id_token, nonce=NONCE)

    assert verified["email"] == "ada@example.com"
    assert verified["aud"] in (CLIENT_ID, [CLIENT_ID])
    assert verified["iss"] == provider


async def test_verify_id_token__payload_tampered__refused(provider: str, id_token: str) -> None:
    header, payload, signature = id_token.split(".")
    forged = b64(unb64(payload) | {"email": "admin@example.com"})

    with pytest.raises(Forbidden, match="ID token was refused"):
        await oidc(provider).verify_id_token(f"{header}.{forged}.{signature}", nonce=NONCE)


async def test_verify_id_token__unsigned__refused(provider: str, id_token: str) -> None:
    _, payload, _ = id_token.split(".")
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."

    with pytest.raises(Forbidden, match="ID token was refused"):
        await oidc(provider).verify_id_token(unsigned, nonce=NONCE)


async def test_verify_id_token__issued_to_another_client__refused(
    provider: str, id_token: str
) -> None:
    with pytest.raises(Forbidden, match="'aud'"):
        await oidc(provider, client_id="someone-else").verify_id_token(id_token, nonce=NONCE)


async def test_verify_id_token__other_nonce__refused(provider: str, id_token: str) -> None:
    with pytest.raises(Forbidden, match="'nonce'"):
        await oidc(provider).verify_id_token(id_token, nonce="another-sign-in")

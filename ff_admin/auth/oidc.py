"""Signing in with OpenID Connect: the authorization request, the code exchange (PKCE S256)
and the checks on who came back (ID token, verified email, allowed domain).

Refusals raise ``Forbidden`` with a message for the user; a provider that cannot be reached
or answers nonsense raises ``ProviderUnavailable`` (a 502: not the user's doing).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import httpx
from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet, KeySetSerialization
from joserfc.jws import JWSRegistry

from ff_core.errors import Forbidden

with warnings.catch_warnings():
    # Authlib 1.8+ prefers httpx2 and warns when it falls back to httpx, which ff pins.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
        OAuthError,
    )
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]

SCOPE = "openid email profile"
_TIMEOUT_S = 10.0
_LEEWAY_S = 60
# Only the provider's published keys may vouch for a user: no "none", and no HS* keyed
# with the client secret.
_ALGORITHMS = (
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512", "EdDSA"),
)


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered nonsense (a 502, not a refusal)."""


@dataclass(frozen=True, slots=True)
class Identity:
    email: str  # lower-case
    name: str | None


def identity_from_claims(claims: Mapping[str, Any], allowed_domains: Sequence[str]) -> Identity:
    """Who verified claims name, if they may sign in: a verified email in an allowed domain."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise Forbidden(
            "The sign-in provider did not share your email address, which the dashboard needs."
        )
    verified = claims.get("email_verified")
    # Some providers send the flag as a string; 1 == True must not pass for it.
    if verified is not True and verified != "true":
        raise Forbidden(
            f"The sign-in provider has not verified {email}. Verify it there, then sign in again."
        )
    domain = email.rsplit("@", 1)[1].lower()
    allowed = {d.strip().lstrip("@").lower() for d in allowed_domains if d.strip()}
    if allowed and domain not in allowed:
        raise Forbidden(f"Addresses at {domain} may not sign in to this dashboard.")
    name = claims.get("name")
    return Identity(email=email.lower(), name=name if isinstance(name, str) and name else None)


class OidcClient:
    """One OpenID provider; its discovery document and keys are fetched once and kept."""

    def __init__(self, issuer: str, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self._client_secret = client_secret
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    def _oauth(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            scope=SCOPE,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=_TIMEOUT_S,
        )

    async def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        metadata = await self.metadata()
        async with self._oauth() as oauth:
            url, _ = oauth.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                code_verifier=code_verifier,
                nonce=nonce,
            )
        return str(url)

    async def sign_in(self, *, code: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code for tokens; the verified claims of the ID token."""
        metadata = await self.metadata()
        async with self._oauth() as oauth:
            try:
                token = await oauth.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
            except OAuthError as exc:
                detail = f"{exc.error}: {exc.description}" if exc.description else exc.error
                raise Forbidden(
                    f"The sign-in provider refused the sign-in ({detail}). Sign in again."
                ) from None
            except (httpx.HTTPError, ValueError) as exc:
                raise ProviderUnavailable(f"token endpoint: {exc}") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise ProviderUnavailable("the token endpoint answered without an id_token")
        return await self.verify_id_token(
            id_token, nonce=nonce, access_token=token.get("access_token")
        )

    async def verify_id_token(
        self, id_token: str, *, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        """The claims of an ID token signed by the provider, for this client, with ``nonce``."""
        metadata = await self.metadata()
        advertised = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in advertised if alg in _ALGORITHMS] or ["RS256"]
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(), registry=registry)
            except InvalidKeyIdError:  # the provider rotated its keys since we fetched them
                decoded = jwt.decode(id_token, await self._key_set(refresh=True), registry=registry)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": metadata["issuer"]},
                    "aud": {"essential": True, "value": self.client_id},
                    "exp": {"essential": True},
                    "nonce": {"essential": True, "value": nonce},
                },
                {"nonce": nonce, "client_id": self.client_id, "access_token": access_token},
            )
            claims.validate(leeway=_LEEWAY_S)
        except (JoseError, ValueError) as exc:
            reason = exc.description if isinstance(exc, JoseError) else str(exc)
            raise Forbidden(
                f"The sign-in provider's ID token was refused ({reason}). Sign in again."
            ) from None
        return dict(claims)

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (``/.well-known/openid-configuration``)."""
        if self._metadata is None:
            metadata = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if str(metadata.get("issuer", "")).rstrip("/") != self.issuer:
                raise ProviderUnavailable(
                    f"the discovery document names issuer {metadata.get('issuer')!r}, "
                    f"not {self.issuer!r}"
                )
            needed = ("authorization_endpoint", "token_endpoint", "jwks_uri")
            missing = [name for name in needed if not isinstance(metadata.get(name), str)]
            if missing:
                raise ProviderUnavailable(f"the discovery document lacks {', '.join(missing)}")
            self._metadata = metadata
        return self._metadata

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            metadata = await self.metadata()
            data = await self._get_json(metadata["jwks_uri"])
            try:
                self._keys = KeySet.import_key_set(cast("KeySetSerialization", data))
            except (JoseError, ValueError, KeyError, TypeError) as exc:
                raise ProviderUnavailable(f"unreadable keys at {metadata['jwks_uri']}") from exc
        return self._keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT_S) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"GET {url}: {exc}") from exc
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"GET {url}: not a JSON object")
        return body

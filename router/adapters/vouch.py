"""Verifying the signed token an approval_recorded event carries: who decided, and with which roles.

The approval service puts the approver's own token (the user pool's on AWS, the development issuer's locally)
in the event; the engine takes the approver's identity and roles from its verified claims, never from the
event's other fields. A forged or unsigned event is refused before any ticket is touched.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jwt

from router.core.identity import suspicious
from router.core.outcomes import Rejected


class Unvouched(Rejected):
    """The token is missing, unsigned, expired or from another issuer: the event is not applied."""


LOCAL_ISSUER = "journeys-local"  # api/auth.py's development issuer


def vouch(settings: Any, token: str) -> tuple[str, list[str]]:
    try:
        if settings.approver_secret:
            claims = jwt.decode(
                token,
                settings.approver_secret,
                algorithms=["HS256"],
                issuer=LOCAL_ISSUER,
                options={"require": ["exp", "sub", "iss"]},
            )
        elif settings.approver_issuer:
            key = _jwks(settings.approver_issuer).get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token, key, algorithms=["RS256"], issuer=settings.approver_issuer, options={"require": ["exp", "sub"]}
            )
        else:
            raise Unvouched("no approver token issuer is configured: approval events cannot be verified")
    except jwt.InvalidTokenError as exc:
        raise Unvouched(f"the approver's token is not valid: {exc}") from None
    return _identity(claims)


def _identity(claims: dict[str, Any]) -> tuple[str, list[str]]:
    """The username and roles a verified token names, read as the API reads them (api/auth.py)."""
    name = claims.get("cognito:username") or claims.get("username") or claims.get("sub")
    groups = claims.get("cognito:groups")
    roles = groups if isinstance(groups, list) else str(groups or "").strip("[]").replace(",", " ").split()
    for value in [name, *roles]:
        why = suspicious(str(value or ""))
        if why:
            raise Unvouched(f"the approver's token names an identity or role that cannot be trusted: {why}")
    return str(name), sorted(str(role) for role in roles)


@cache
def _jwks(issuer: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(f"{issuer.rstrip('/')}/.well-known/jwks.json", cache_keys=True)

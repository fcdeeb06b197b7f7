"""Who is calling: a bearer JWT turned into a Principal, and the roles each route needs.

On AWS, API Gateway's JWT authorizer (the Cognito user pool) has verified the token before Lambda runs,
so `GatewayClaims` reads the claims it passed on. Locally, `DevIssuer` signs and verifies HS256 tokens
with a secret kept in .journeys/local.json (`journeys token`). Either way a route sees only a Principal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from fastapi import Request

from router.core.identity import canonical, holds, suspicious

VIEWER, OPERATOR, CUSTOMER, STARTER = "viewer", "operator", "customer", "starter"
STAFF = frozenset({VIEWER, OPERATOR, STARTER})  # every other staff role is an approval role
LOCAL_ISSUER = "journeys-local"
GROUPS = "cognito:groups"


class Unauthenticated(Exception):
    """No usable token: answered 401."""


class Forbidden(Exception):
    """A valid token without the role the route needs: answered 403."""


@dataclass(frozen=True)
class Principal:
    """`sub` is the token's subject; `name` is who the caller is to people and to maker-checker: the username.
    Cognito's `sub` is a UUID while journeys record their maker by username, so decisions and the audit use `name`."""

    sub: str
    name: str
    roles: frozenset[str]
    customer_id: str | None = None

    def holds(self, role: str) -> bool:
        """Whether the caller holds `role`, compared canonically: `Operator` and `operator` are one role."""
        return holds(self.roles, role)

    def require(self, *roles: str) -> None:
        """Raise Forbidden unless the caller holds one of `roles`."""
        if not any(self.holds(role) for role in roles):
            raise Forbidden(f"{self.name} may not do this: it needs role {' or '.join(roles)}")

    @property
    def approval_roles(self) -> frozenset[str]:
        """The caller's roles other than viewer, operator and customer, in canonical form (as tickets compare them)."""
        return frozenset(canonical(r) for r in self.roles) - STAFF - {CUSTOMER}


def principal_from(claims: dict[str, Any]) -> Principal:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("the token names no subject (sub)")
    customer = claims.get("customer_id") or claims.get("custom:customer_id")
    name = str(claims.get("cognito:username") or claims.get("username") or sub)  # ID / access tokens / ours
    roles = frozenset(_groups(claims.get(GROUPS)))
    _plain("username", name)
    for role in roles:
        _plain("role", role)
    return Principal(sub=sub, roles=roles, customer_id=customer, name=name)


def _plain(what: str, value: str) -> None:
    """A name that only looks like another once invisible characters are dropped is not an identity to trust.
    The answer names the character's code point, never the name (it may be someone else's)."""
    why = suspicious(value)
    if why:
        raise Unauthenticated(f"the token's {what} is not plain text: {why}")


def _groups(value: Any) -> list[str]:
    """Groups as a JSON list (our tokens) or as API Gateway passes them on: "[viewer operator]"."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [g for g in value.strip("[]").replace(",", " ").split() if g]
    return []


class Authenticator(Protocol):
    def __call__(self, request: Request) -> Principal: ...


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthenticated("send an Authorization: Bearer <token> header")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return token.strip()


@dataclass(frozen=True)
class DevIssuer:
    """The local stack's token issuer: HS256 with a per-stack secret. Never used on AWS."""

    secret: str
    issuer: str = LOCAL_ISSUER

    def issue(
        self, sub: str, roles: list[str], customer_id: str | None = None, ttl: int = 8 * 3600, now: float | None = None
    ) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {"sub": sub, GROUPS: roles, "iss": self.issuer, "iat": issued, "exp": issued + ttl}
        if customer_id:
            claims["customer_id"] = customer_id
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def __call__(self, request: Request) -> Principal:
        try:
            claims = jwt.decode(
                bearer(request),
                self.secret,
                algorithms=["HS256"],
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired: get a new one (journeys token)") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from None
        return principal_from(claims)


class GatewayClaims:
    """Claims API Gateway's JWT authorizer verified, from the Lambda event Mangum keeps in the ASGI scope."""

    def __call__(self, request: Request) -> Principal:
        event = request.scope.get("aws.event") or {}
        claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims")
        if not claims:
            raise Unauthenticated("no verified token reached the function (is the JWT authorizer attached?)")
        return principal_from(claims)

"""User tokens: the JWTs (RFC 7519) an app's backend mints for its front end. Pure: no
FastAPI, no database; app/apps.py finds the app and its secret, this checks the token.

Every rule of API.md "Apps and users": HS256 only (the algorithm is pinned: `none`, RS256 and
the rest are refused whatever the header says), signed with the app's signing secret, `iss` the
app's id, `sub` the user id, `iat` and `exp` present with `exp` at most 24 hours after `iat`,
and not expired or future-dated (`iat`, `nbf`). Clocks may differ by LEEWAY_S.
"""

from __future__ import annotations

from uuid import UUID

import jwt

ALGORITHM = "HS256"
MAX_LIFETIME_S = 24 * 3600
LEEWAY_S = 30  # clock skew allowed between the app's backend and this service
MAX_USER_ID = 200
_BAD_SUB = "The user token's sub must be a user id of 1..200 characters"


class TokenError(ValueError):
    """Why a token is refused; the message is safe to show the caller."""


def looks_like_token(credential: str) -> bool:
    """A JWT is three dot-separated parts; keys (`nb_...`, `nba_...`) have no dot."""
    return credential.count(".") == 2


def issuer(token: str) -> UUID:
    """The app a token claims to come from (unverified: only to find the secret to verify it)."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise TokenError("The user token is malformed") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"The user token must be signed with {ALGORITHM}")
    try:
        return UUID(str(claims["iss"]))
    except (KeyError, ValueError):
        raise TokenError("The user token's iss must be the id of an app") from None


def verify(token: str, *, secret: str, app_id: UUID) -> str:
    """The user id (`sub`) of a valid token of the app `app_id`; TokenError otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=str(app_id),
            leeway=LEEWAY_S,
            options={"require": ["iss", "sub", "iat", "exp"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("The user token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("The user token is not valid yet (iat or nbf in the future)") from None
    except jwt.InvalidSignatureError:
        raise TokenError("The user token's signature does not verify") from None
    except jwt.InvalidIssuerError:
        raise TokenError("The user token's iss must be the id of its app") from None
    except jwt.exceptions.InvalidSubjectError:
        raise TokenError(_BAD_SUB) from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"The user token has no {exc.claim} claim") from None
    except jwt.InvalidTokenError:
        raise TokenError("The user token is malformed") from None
    if claims["exp"] - claims["iat"] > MAX_LIFETIME_S:
        raise TokenError("The user token lives longer than 24 hours (exp - iat)")
    sub = claims["sub"]
    if not isinstance(sub, str) or not 1 <= len(sub) <= MAX_USER_ID or "\x00" in sub:
        raise TokenError(_BAD_SUB)
    return sub

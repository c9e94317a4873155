"""Who may call the back-office routes that show something about patients: hospital staff and
their systems, with the staff token (PARCOURS_STAFF_TOKEN, or var/staff.token made at first start)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.core.config import settings

bearer = HTTPBearer(auto_error=False, description="The staff token: PARCOURS_STAFF_TOKEN or var/staff.token")


def is_staff(credentials: HTTPAuthorizationCredentials | None) -> bool:
    supplied = credentials.credentials if credentials else ""
    return hmac.compare_digest(supplied.encode(), settings().staff_token.encode())


async def require_staff(credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> None:
    if not is_staff(credentials):
        raise HTTPException(401, "this route needs the staff token: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})

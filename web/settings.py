"""The workbench's settings (pydantic): where the runs are, who may sign in, how cookies work."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import BaseModel, Field

SECRET_FILE = ".workbench-secret"


class WebSettings(BaseModel):
    """Settings of one workbench server.

    ``secret_key`` signs the session cookies; when not given it is read from (or created in)
    ``<out>/.workbench-secret`` (mode 0600), so sessions survive a restart.
    """

    out: Path = Field(description="The output folder of the runs (runs/<as_of>/).")
    users_file: Path = Field(description="The users file (vmi users add).")
    secret_key: str | None = None
    trusted_header: str | None = Field(
        default=None, description="Opt-in: a reverse proxy's header naming the signed-in user."
    )
    secure_cookies: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (behind TLS)."
    )
    session_hours: int = Field(default=12, ge=1, le=24 * 30)

    def signing_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = Path(self.out) / SECRET_FILE
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(key)
        return key

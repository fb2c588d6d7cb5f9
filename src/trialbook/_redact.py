"""Hiding passwords in text that is printed or written: a store URL in a message, a command
line in meta.json. Store URLs themselves are masked by :func:`trialbook.store.safe_url`
(SQLAlchemy's own rendering); this module covers free text, where a URL may sit among other
words or may not parse, and imports nothing heavy."""

from __future__ import annotations

import re

__all__ = ["MASK", "hide_passwords"]

#: What a password is replaced with (SQLAlchemy's ``render_as_string(hide_password=True)``).
MASK = "***"

# scheme://user:password@ — the password runs to the first "@" after it, as SQLAlchemy reads
# it (so it may hold an unescaped "/" or ":").
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:]*):[^\s@]*@")
# libpq also takes the password as a query parameter or a key=value conninfo word.
_PARAMETER = re.compile(r"(\bpassword=)[^&\s]*", re.IGNORECASE)


def hide_passwords(text: str) -> str:
    """``text`` with the password of every URL in it (``scheme://user:password@host``,
    ``...?password=...``, ``password=...``) replaced by ``***``."""
    if "://" not in text and "password" not in text.lower():
        return text
    text = _USERINFO.sub(lambda m: f"{m[1]}:{MASK}@", text)
    return _PARAMETER.sub(lambda m: f"{m[1]}{MASK}", text)

"""API keys: ``cm-`` + 43 URL-safe characters (256 random bits); only their SHA-256 is stored.

Why plain SHA-256 and not bcrypt/argon2: slow, salted hashes protect *low-entropy* secrets (passwords)
against offline guessing. A 256-bit random key cannot be guessed however fast the hash is, so a leaked
table reveals nothing usable, and an unsalted hash lets every request find its key with one indexed
equality lookup (microseconds) instead of a ~100 ms KDF per request. The ``cm-`` prefix makes keys
recognisable to secret scanners; the first characters after it are kept as a display prefix.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "cm-"
_DISPLAY_CHARS = 8


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(api_key: str) -> str:
    return api_key[: len(KEY_PREFIX) + _DISPLAY_CHARS]


def new_id(kind: str) -> str:
    """Short random public identifiers such as ``key_3f9a0c1e2b4d5a6f``."""
    return f"{kind}_{secrets.token_hex(8)}"

"""Secrets never reach a report: `--target-option` values and adapter messages, redacted.

What counts as a secret (each replaced by `***`):
- the whole value of an option whose key names a credential (password, secret,
  token, key, auth, credential, signature, session, cookie, ...);
- in any URL: the password of its userinfo (`user:***@host`), a user name that
  looks like a token, and query or fragment values whose key names a credential
  or that look like a token;
- `key=value` pairs inside a value (libpq or ODBC DSNs) whose key names a credential,
  and `Bearer`/`Basic` credentials;
- a whole option value that looks like a token (long, letters mixed with digits).

A `Redactor` remembers every secret it removed from the options, so the same text
is also scrubbed from free text that an adapter may have echoed (an exception
message that quotes the DSN, say). It scrubs only where a secret stands as a word
of its own, so hex digests and ids are never mangled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MARK = "***"
MIN_SCRUB = 3  # shorter secrets are redacted in options, but not hunted in free text

_WORDS = {
    "password", "passwd", "pass", "pwd", "passphrase", "secret", "token", "key", "apikey",
    "auth", "authorization", "credential", "credentials", "signature", "sig", "cookie",
    "session", "sas", "bearer", "jwt", "otp", "pin", "private",
}  # fmt: skip
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
_PAIR = re.compile(
    r"(?P<key>[A-Za-z][\w.\-]*)(?P<sep>\s*[=:]\s*)(?P<val>'[^']*'|\"[^\"]*\"|[^\s;&,]+)"
)
_SCHEME = re.compile(r"(?P<scheme>\b(?:Bearer|Basic|Token)\s+)(?P<val>[A-Za-z0-9._~+/\-]+=*)")
_TOKENISH = re.compile(r"[A-Za-z0-9_\-+=.~]{20,}")


def secret_key(name: str) -> bool:
    """True when a key's name says its value is a credential (`db_password`, `apiKey`, ...)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    words = {w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w}
    joined = "".join(words)
    return bool(words & _WORDS) or any(w in joined for w in ("password", "secret", "token"))


def looks_like_token(value: str) -> bool:
    """A long run of letters mixed with digits, or a JWT: a credential, not a setting."""
    if value.startswith("eyJ") and value.count(".") == 2:
        return True
    return (
        bool(_TOKENISH.fullmatch(value))
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )


Found = Callable[[str], None]


def _url(url: str, found: Found) -> str:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port: then leave the URL to the other rules
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if password:
            found(password)
            password = MARK
        if looks_like_token(user):
            found(user)
            user = MARK
        netloc = f"{user}{colon}{password}@{host}"

    def params(text: str) -> str:
        if "=" not in text:
            return text
        out = []
        for key, value in parse_qsl(text, keep_blank_values=True):
            if value and (secret_key(key) or looks_like_token(value)):
                found(value)
                out.append(f"{quote(key, safe='')}={MARK}")
            else:
                out.append(f"{quote(key, safe='')}={quote(value, safe='/:@')}")
        return "&".join(out)

    return urlunsplit(
        (parts.scheme, netloc, parts.path, params(parts.query), params(parts.fragment))
    )


def _text(text: str, found: Found) -> str:
    text = _URL.sub(lambda m: _url(m.group(0), found), text)

    def pair(m: re.Match[str]) -> str:
        value = m.group("val").strip("'\"")
        if not secret_key(m.group("key")) or not value or value == MARK:
            return m.group(0)
        found(value)
        return f"{m.group('key')}{m.group('sep')}{MARK}"

    def scheme(m: re.Match[str]) -> str:
        found(m.group("val"))
        return f"{m.group('scheme')}{MARK}"

    return _SCHEME.sub(scheme, _PAIR.sub(pair, text))


def redact_value(key: str, value: str, found: Found | None = None) -> str:
    """One option's value as a report may show it."""
    found = found or (lambda _secret: None)
    if not value:
        return value
    if secret_key(key) or looks_like_token(value):
        found(value)
        return MARK
    return _text(value, found)


@dataclass(frozen=True)
class Redactor:
    """Redacts options, and scrubs the secrets it found from any other text."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def for_options(cls, options: Mapping[str, str]) -> Redactor:
        found: set[str] = set()
        for key, value in options.items():
            redact_value(key, value, found.add)
        found.discard(MARK)
        return cls(tuple(sorted(found, key=lambda s: (-len(s), s))))

    def options(self, options: Mapping[str, str]) -> dict[str, str]:
        return {k: redact_value(k, v) for k, v in sorted(options.items())}

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if len(secret) >= MIN_SCRUB and secret in text:
                pattern = rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])"
                text = re.sub(pattern, MARK, text)
        return _text(text, lambda _secret: None) if ("=" in text or "://" in text) else text

    def json(self, value: Any) -> Any:
        """Every string in a JSON value scrubbed (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v) for k, v in value.items()}
        return value


def redacted_keys(options: Mapping[str, str]) -> list[str]:
    """The option keys whose values a report does not show as given."""
    return sorted(k for k, v in options.items() if MARK in v or redact_value(k, v) != v)

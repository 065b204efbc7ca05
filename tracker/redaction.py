"""Redaction: keep secrets logged by mistake out of everything tracker publishes.

Two rules, both configurable (``[tool.tracker.redact]``, see ``tracker.config``):

- **by key**: a param or tag whose key matches a glob (case-insensitive; built in:
  ``*password*``, ``*passwd*``, ``*secret*``, ``*token*``, ``*key*``, ``*credential*``) has its
  whole value replaced by ``[redacted]``;
- **by value**: wherever a value (under any key, in any free text) contains something shaped
  like a credential, that part is replaced by ``[redacted]``: AWS access key ids, GitHub, GitLab,
  Slack, OpenAI, Hugging Face, Google and Stripe tokens, JWTs, ``Bearer`` tokens, PEM private
  keys, the password of a ``user:password@`` URL (replaced by ``REDACTED``, which keeps the URL
  parseable), and long random-looking strings (32+ letters and digits of high entropy that do
  not read like words). Hex strings are never touched, so
  run ids, digests and git SHAs stay as they are.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.config import RedactRules, TrackerConfig, matches
from tracker.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["DEFAULT_KEYS", "MARKER", "Redactor"]

MARKER = "[redacted]"
# Inside a URL's user:password@ part brackets would make the URL unparseable (they mean an IPv6
# host there), so the marker is spelled without them.
URL_MARKER = "REDACTED"
DEFAULT_KEYS = ("*password*", "*passwd*", "*secret*", "*token*", "*key*", "*credential*")

# Credential formats, each replaced as a whole where it occurs (named for the docs and tests).
DETECTORS: dict[str, str] = {
    "pem private key": (
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\Z)"
    ),
    "aws access key id": r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
    "github token": r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})",
    "gitlab token": r"\bglpat-[A-Za-z0-9_-]{20,}",
    "slack token": r"\bxox[abposre]-[A-Za-z0-9-]{10,}",
    "openai key": r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",
    "hugging face token": r"\bhf_[A-Za-z0-9]{30,}",
    "google api key": r"\bAIza[0-9A-Za-z_-]{35}",
    "stripe key": r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",
    "jwt": r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    "bearer token": r"(?<=[Bb]earer )[A-Za-z0-9._~+/-]{16,}=*",
}
# The ``user:password`` of ``scheme://user:password@host`` (the user name stays, unless it is a
# token itself).
_URL_USERINFO = re.compile(r"(?<=://)([^/\s:@'\"\[\]]+)(?::([^/\s@'\"]*))?@")
_RANDOM_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/=_-]{32,}(?![A-Za-z0-9+/=_-])")
_HEX = re.compile(r"^[0-9a-fA-F_-]+$")
_WORDISH = re.compile(r"[a-z]{3,}|[A-Z]{4,}|[0-9]{4,}")
# ``key: value`` / ``key = value`` / ``export KEY=value`` lines of YAML, INI, TOML, .env files.
_ASSIGNMENT = re.compile(
    r"^(?P<head>[ \t]*(?:export[ \t]+)?[\"']?(?P<key>[A-Za-z_][\w.-]*)[\"']?[ \t]*[:=][ \t]*)"
    r"(?P<value>\S[^\n]*)$",
    re.MULTILINE,
)
MIN_RANDOM_LENGTH = 32
MIN_ENTROPY = 4.0  # bits per character
MAX_WORDISH = 0.4  # share of characters in lower-case runs, capitals runs or number runs


def looks_random(token: str) -> bool:
    """True when ``token`` reads like a generated secret rather than a name, path or hex digest.

    32+ characters with upper case, lower case and digits, at least ``MIN_ENTROPY`` bits per
    character, and less than ``MAX_WORDISH`` of it in word-like runs (``nyc_taxi_2024…``,
    ``XGBRegressorWithEarlyStopping`` read as words). Hex is never random here: run ids,
    digests and git SHAs are hex.
    """
    if len(token) < MIN_RANDOM_LENGTH or _HEX.match(token):
        return False
    if not (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
    ):
        return False
    counts = Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    wordish = sum(len(m) for m in _WORDISH.findall(token)) / len(token)
    return entropy >= MIN_ENTROPY and wordish < MAX_WORDISH


@dataclass(frozen=True)
class Redactor:
    """Decides what is redacted and replaces it with ``MARKER``.

    Build one with ``Redactor.from_config(load_config())``; then

    - ``is_redacted_key(key)``: is every value under this param/tag key hidden?
    - ``redact_value(key, value)``: the value to show for ``key`` (the marker, or the value with
      any credential-looking parts replaced);
    - ``redact_text(text)``: free text (descriptions, reasons, URLs) with credential-looking
      parts replaced;
    - ``redact_mapping(mapping)`` and ``redact_json(text)`` for whole tag dicts and JSON.

    Args:
        keys: key globs (case-insensitive) whose values are always hidden.
        allow: key globs never hidden by key (their values are still scanned).
        values: compiled regular expressions of secret values.
        heuristics: also redact URL passwords and long random-looking strings.
    """

    keys: tuple[str, ...] = DEFAULT_KEYS
    allow: tuple[str, ...] = ()
    values: tuple[re.Pattern[str], ...] = ()
    heuristics: bool = True

    @classmethod
    def from_config(cls, config: TrackerConfig | RedactRules | None = None) -> Redactor:
        """The redactor of a configuration (None: the built-in rules).

        Args:
            config: a ``TrackerConfig``, its ``redact`` rules, or None.
        """
        if config is None:
            rules = RedactRules()
        elif isinstance(config, TrackerConfig):
            rules = config.redact
        elif isinstance(config, RedactRules):
            rules = config
        else:
            raise InvalidArgumentError(
                f"Redactor.from_config needs a TrackerConfig or RedactRules, got {config!r}."
            )
        # The built-in detectors as one alternation: one scan of each value instead of eleven.
        builtin = (
            ("|".join(f"(?:{p})" for p in DETECTORS.values()),) if rules.default_values else ()
        )
        return cls(
            keys=(DEFAULT_KEYS if rules.default_keys else ()) + rules.keys,
            allow=rules.allow,
            values=tuple(re.compile(p) for p in builtin + rules.values),
            heuristics=rules.default_values,
        )

    def is_redacted_key(self, key: str) -> bool:
        """True when every value logged under ``key`` is hidden.

        Args:
            key: a param, tag or metric key.
        """
        _check_text("key", key)
        return matches(key, self.keys, ignore_case=True) and not matches(
            key, self.allow, ignore_case=True
        )

    def redact_value(self, key: str, value: str) -> str:
        """What to show of ``value`` logged under ``key``.

        Args:
            key: the param or tag key.
            value: the logged value (scanned like a document when the key is not redacted, so
                a multi-line ``password: …`` value is caught too).
        """
        _check_text("value", value)
        return MARKER if self.is_redacted_key(key) else self.redact_document(value)

    def redact_text(self, text: str) -> str:
        """``text`` with every credential-looking part replaced by ``MARKER``.

        Args:
            text: any free text: a value, a description, a URL, a JSON document.
        """
        _check_text("text", text)
        if "@" in text:
            text = _URL_USERINFO.sub(self._userinfo, text)
        for pattern in self.values:
            text = pattern.sub(MARKER, text)
        if self.heuristics:
            text = _RANDOM_CANDIDATE.sub(
                lambda m: MARKER if looks_random(m.group(0)) else m.group(0), text
            )
        return text

    def _userinfo(self, match: re.Match[str]) -> str:
        user, password = match.group(1), match.group(2)
        if any(p.search(user) for p in self.values) or (self.heuristics and looks_random(user)):
            user = URL_MARKER
        if password and self.heuristics:
            password = URL_MARKER
        return f"{user}:{password}@" if password is not None else f"{user}@"

    def redact_document(self, text: str) -> str:
        """A text file (config, log, script) redacted: the value of each ``key: value`` or
        ``key = value`` line whose key is redacted, then credential-looking parts anywhere.

        Args:
            text: the file's content.
        """
        _check_text("text", text)

        def line(match: re.Match[str]) -> str:
            if self.is_redacted_key(match["key"]):
                return match["head"] + MARKER
            return match.group(0)

        if ":" in text or "=" in text:
            text = _ASSIGNMENT.sub(line, text)
        return self.redact_text(text)

    def redact_mapping(self, mapping: Mapping[str, str]) -> dict[str, str]:
        """A copy of a key → value dict (tags, params) with each value redacted by its key."""
        return {k: self.redact_value(k, v) if isinstance(v, str) else v for k, v in mapping.items()}

    def redact_structure(self, value: Any) -> Any:
        """A copy of parsed JSON: dict values redacted by their keys, strings like documents."""
        if isinstance(value, dict):
            return {
                k: MARKER
                if isinstance(k, str)
                and self.is_redacted_key(k)
                and isinstance(v, (str, int, float))
                else self.redact_structure(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.redact_structure(v) for v in value]
        return self.redact_document(value) if isinstance(value, str) else value

    def redact_json(self, text: str) -> str:
        """A JSON document redacted like ``redact_structure`` (not JSON: like ``redact_text``)."""
        _check_text("text", text)
        try:
            parsed = json.loads(text)
        except ValueError:
            return self.redact_text(text)
        return json.dumps(self.redact_structure(parsed), sort_keys=True, ensure_ascii=False)


def _check_text(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"The {name} to redact must be a string, got {value!r}.")

"""Redaction: keep secrets logged by mistake out of everything tracker publishes.

Two rules, both configurable (``[tool.tracker.redact]``, see ``tracker.config``):

- **by key**: a param or tag whose key matches a glob (case-insensitive; built in:
  ``*password*``, ``*passwd*``, ``*secret*``, ``*token*``, ``*key*``, ``*credential*``) has its
  whole value replaced by ``[redacted]``; so has the value of a ``key=value``/``key: value``
  written inside any text (``…?token=abc``, ``password: x`` in a YAML file or a run name);
- **by value**: wherever a value (under any key, in any free text) contains something shaped
  like a credential, that part is replaced by ``[redacted]``: AWS access key ids, GitHub, GitLab,
  Slack, OpenAI, Hugging Face, Google, Stripe, npm, PyPI, SendGrid, Twilio, Databricks, Vault,
  Azure and other tokens, JWTs, ``Bearer`` tokens, PEM private keys, the password of a
  ``user:password@`` URL (replaced by ``REDACTED``, which keeps the URL parseable), and long
  random-looking strings (32+ letters and digits of high entropy that do not read like words).
  Hex strings are never touched, so run ids, digests and git SHAs stay as they are.

Detectors treat ``_`` and ``-`` as separators, so ``creds_AKIA…`` and ``x-ghp_…`` are found.
Names (param, tag and metric keys, model names, aliases: ``redact_name``; artifact paths:
``redact_path``) are scanned by value too; a redacted name carries a short digest of the
original (``creds_[redacted~1f2e3d4c]``), so two names never collapse into one (#15).
"""

from __future__ import annotations

import functools
import hashlib
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

__all__ = ["DEFAULT_KEYS", "DETECTORS", "MARKER", "PATH_MARKER", "Redactor", "looks_random"]

MARKER = "[redacted]"
# Inside a URL's user:password@ part brackets would make the URL unparseable (they mean an IPv6
# host there), so the marker is spelled without them; file names use it too.
URL_MARKER = PATH_MARKER = "REDACTED"
DEFAULT_KEYS = ("*password*", "*passwd*", "*secret*", "*token*", "*key*", "*credential*")

# A credential starts where no letter or digit precedes it: ``_`` and ``-`` are separators, so
# ``creds_AKIA…`` is found (``\b`` treats ``_`` as part of a word and missed it, #15).
_B = r"(?<![A-Za-z0-9])"
_E = r"(?![A-Za-z0-9])"
# Credential formats, each replaced as a whole where it occurs (named for the docs and tests).
DETECTORS: dict[str, str] = {
    "pem private key": (
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\Z)"
    ),
    "aws access key id": _B + r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}" + _E,
    "github token": _B + r"(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})",
    "gitlab token": _B + r"gl(?:pat|dt|ptt|rt|cbt|oas)-[A-Za-z0-9_-]{20,}",
    "slack token": _B + r"xox[abposre]-[A-Za-z0-9-]{10,}",
    "slack or discord webhook": (
        r"(?:hooks\.slack\.com/(?:services|workflows|triggers)|"
        r"discord(?:app)?\.com/api/webhooks)/[A-Za-z0-9/_-]{16,}"
    ),
    "openai key": _B + r"sk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    "hugging face token": _B + r"hf_[A-Za-z0-9]{30,}",
    "google api key": _B + r"AIza[0-9A-Za-z_-]{35}",
    "google oauth secret or token": _B + r"(?:GOCSPX-[A-Za-z0-9_-]{20,}|ya29\.[A-Za-z0-9_-]{20,})",
    "stripe key": _B + r"(?:[rs]k_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{20,})",
    "npm token": _B + r"npm_[A-Za-z0-9]{36}",
    "pypi token": _B + r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{20,}",
    "azure client secret": _B + r"[A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}",
    "azure sas signature": r"(?<=[?&]sig=)[A-Za-z0-9%/+=]{16,}",
    "sendgrid key": _B + r"SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",
    "twilio key": _B + r"SK[0-9a-fA-F]{32}" + _E,
    "databricks token": _B + r"dapi[0-9a-f]{32}",
    "digitalocean token": _B + r"do[opr]_v1_[a-f0-9]{64}",
    "shopify token": _B + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
    "vault token": _B + r"hv[sb]\.[A-Za-z0-9_-]{24,}",
    "mailgun key": _B + r"key-[0-9a-zA-Z]{32}" + _E,
    "age secret key": r"AGE-SECRET-KEY-1[0-9A-Z]{58}",
    "jwt": _B + r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    "bearer token": r"(?<=[Bb]earer )[A-Za-z0-9._~+/-]{16,}=*",
    "basic auth": r"(?<=[Aa]uthorization: [Bb]asic )[A-Za-z0-9+/]{8,}={0,2}",
}
# A literal each detector's match must contain: one search for any of them (a few
# microseconds) decides whether the ~30-way alternation runs at all, which costs ~1 µs per
# character. A detector without a hint is always run.
# Short literals are followed by a few characters of the token, so that random bytes (a binary
# artifact) rarely pass the guard.
HINTS: dict[str, str] = {
    "pem private key": "PRIVATE KEY-----", "aws access key id": "AKIA|ASIA|ABIA|ACCA",
    "github token": "gh[pousr]_|github_pat_", "gitlab token": "gl[a-z]+-", "slack token": "xox",
    "slack or discord webhook": "hooks.slack.com|/api/webhooks/",
    "openai key": "sk-[A-Za-z0-9_-]{8}", "hugging face token": "hf_[A-Za-z0-9]{8}",
    "google api key": "AIza", "google oauth secret or token": "GOCSPX-|ya29\\.",
    "stripe key": "k_live_|k_test_|whsec_", "npm token": "npm_[A-Za-z0-9]{8}",
    "pypi token": "pypi-", "azure client secret": "Q~[A-Za-z0-9_~.-]{8}",
    "azure sas signature": "sig=", "sendgrid key": "SG\\.[A-Za-z0-9_-]{8}",
    "twilio key": "SK[0-9a-fA-F]{8}", "databricks token": "dapi", "digitalocean token": "_v1_",
    "shopify token": "shp", "vault token": "hv[sb]\\.", "mailgun key": "key-[0-9a-zA-Z]{8}",
    "age secret key": "AGE-SECRET-KEY-", "jwt": "eyJ", "bearer token": "earer ",
    "basic auth": "asic ",
}
# The ``user:password`` of ``scheme://user:password@host`` (the user name stays, unless it is a
# token itself).
# ``:/`` too: a path made from a URL (an artifact path) has lost one of the two slashes.
# The user name is printable ASCII (random bytes rarely form one), the password anything but
# controls, spaces, quotes, ``/`` and ``@``.
_URL_USERINFO = re.compile(
    r"(?:(?<=://)|(?<=[A-Za-z]:/))([^\x00-\x20\x7f-\U0010ffff/:@'\"\[\]]+)"
    r"(?::([^\x00-\x20\x7f-\x9f/@'\"]*))?@"
)
_RANDOM_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/=_-]{32,}(?![A-Za-z0-9+/=_-])")
# A candidate that is not random as a whole may hold a random part (``names/seed_<token>``).
_PARTS = re.compile(r"([/_-])")
_HEX = re.compile(r"^[0-9a-fA-F_-]+$")
_WORDISH = re.compile(r"[a-z]{3,}|[A-Z]{4,}|[0-9]{4,}")
# ``key: value`` / ``key = value`` / ``export KEY=value`` lines of YAML, INI, TOML, .env files.
_ASSIGNMENT = re.compile(
    r"^(?P<head>[ \t]*(?:export[ \t]+)?[\"']?(?P<key>[A-Za-z_][\w.-]*)[\"']?[ \t]*[:=][ \t]*)"
    r"(?P<value>\S[^\n]*)$",
    re.MULTILINE,
)
# ``key=value``, ``key: value``, ``"key": "value"`` inside text (a query string, a run name, a
# JSON or log line): the value is one word or a quoted string. ``key:value`` (no space) is left
# alone: that is a host:port, a URI or a time, not an assignment. Only ``key`` and the
# separator are matched, so ``Note: password: x`` finds ``password`` after ``Note``.
_INLINE_KEY = re.compile(
    r"(?<![A-Za-z0-9])(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)[\"']?[ \t]*(?:=|:(?=[ \t\"']))[ \t]*"
)
_INLINE_VALUE = re.compile(r"(?P<q>[\"'])[^\"'\n]*(?P=q)|[^\s\"'&,;<>()\[\]{}]+")
MIN_RANDOM_LENGTH = 32
MIN_ENTROPY = 4.0  # bits per character
MAX_WORDISH = 0.4  # share of characters in lower-case runs, capitals runs or number runs
DIGEST_CHARS = 8  # of the sha256 appended to a redacted name


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
    - ``redact_name(name)`` and ``redact_path(path)``: keys, model and alias names, artifact
      paths, redacted and kept distinct;
    - ``redact_mapping(mapping)`` and ``redact_json(text)`` for whole tag dicts and JSON;
    - ``holds_secret(text)``: whether a binary file's text holds a credential.

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
    # guards[i]: ``values[i]`` runs only where this finds something (None or absent: always).
    guards: tuple[re.Pattern[str] | None, ...] = ()

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
        # The built-in detectors as one alternation: one scan of each value instead of many.
        builtin = (
            ("|".join(f"(?:{p})" for p in DETECTORS.values()),) if rules.default_values else ()
        )
        hinted = all(HINTS.get(name) for name in DETECTORS)
        guard = re.compile("|".join(HINTS[n] for n in DETECTORS)) if hinted else None
        return cls(
            keys=(DEFAULT_KEYS if rules.default_keys else ()) + rules.keys,
            allow=rules.allow,
            values=tuple(re.compile(p) for p in builtin + rules.values),
            heuristics=rules.default_values,
            guards=(guard,) if builtin else (),
        )

    def is_redacted_key(self, key: str) -> bool:
        """True when every value logged under ``key`` is hidden.

        Args:
            key: a param, tag or metric key.
        """
        _check_text("key", key)
        return self._hidden(key)

    def _hidden(self, key: str) -> bool:
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
        return self._scan(text, self.heuristics)

    def _scan(self, text: str, random: bool) -> str:
        if "@" in text:
            text = _URL_USERINFO.sub(self._userinfo, text)
        if ("=" in text or ":" in text) and self._may_hold_key(text):
            text = self._inline(text)
        for i, pattern in enumerate(self.values):
            guard = self.guards[i] if i < len(self.guards) else None
            if guard is None or guard.search(text):
                text = pattern.sub(MARKER, text)
        if random:
            text = _RANDOM_CANDIDATE.sub(_random_parts, text)
        return text

    def _may_hold_key(self, text: str) -> bool:
        """False when no redacted key can occur in ``text`` (it lacks each glob's literal)."""
        hint = _key_hint(self.keys)
        return bool(self.keys) and (hint is None or hint.search(text.lower()) is not None)

    def _inline(self, text: str) -> str:
        """The value of each ``key=value`` / ``key: value`` in ``text`` whose key is redacted."""
        out, done = [], 0
        for match in _INLINE_KEY.finditer(text):
            if match.start() < done or not self._hidden(match["key"]):
                continue
            value = _INLINE_VALUE.match(text, match.end())
            if value is None:
                continue
            quote = value["q"] or ""
            out += [text[done:match.end()], quote, MARKER, quote]
            done = value.end()
        return "".join(out) + text[done:] if out else text

    def _userinfo(self, match: re.Match[str]) -> str:
        user, password = match.group(1), match.group(2)
        if any(p.search(user) for p in self.values) or (self.heuristics and looks_random(user)):
            user = URL_MARKER
        if password and self.heuristics:
            password = URL_MARKER
        return f"{user}:{password}@" if password is not None else f"{user}@"

    def redact_name(self, name: str) -> str:
        """A name (param/tag/metric key, model or alias name) as published: unchanged, or
        its secrets replaced and a digest of the whole name put in the first marker
        (``creds_[redacted~1f2e3d4c]``), so two redacted names stay two names (and a page or
        file named after one stays unique) while the rest of the name reads as before
        (``val_[redacted~…]_rmse`` is still an rmse).

        Args:
            name: the name as logged.
        """
        _check_text("name", name)
        shown = self._scan(name, self.heuristics)
        if shown == name:
            return name
        digest = _digest(name)
        tags = ((MARKER, f"[redacted~{digest}]"), (URL_MARKER, f"{URL_MARKER}~{digest}"))
        for marker, tagged in tags:
            if marker in shown:
                return shown.replace(marker, tagged, 1)
        return f"{shown}~{digest}"

    def redact_path(self, path: str) -> str:
        """An artifact path as published: unchanged, or its secrets replaced by ``REDACTED``
        (a file name holds no brackets) and a digest of the whole path added to the file name
        before its extension: ``creds_AKIA….txt`` → ``creds_REDACTED~1f2e3d4c.txt``.

        Args:
            path: a ``/``-separated path (a secret may span its folders: the whole is scanned).
        """
        _check_text("path", path)
        shown = self._scan(path, self.heuristics)
        if shown == path:
            return path
        shown = shown.replace(MARKER, PATH_MARKER)
        folder, slash, name = shown.rpartition("/")
        stem, dot, ext = name.rpartition(".")
        if not (dot and stem) or PATH_MARKER in ext:
            stem, ext = name, ""
        return f"{folder}{slash}{stem}~{_digest(path)}{'.' + ext if ext else ''}"

    def holds_secret(self, text: str) -> bool:
        """True when ``redact_document`` would change ``text``: it holds a credential shape, a
        ``key: value`` of a redacted key, a URL password or a random-looking string (a binary
        file read as Latin-1 is checked this way: it cannot be redacted in place).

        Args:
            text: the text to check.
        """
        return self.redact_document(text) != text

    def redact_document(self, text: str) -> str:
        """A text file (config, log, script) redacted: the value of each ``key: value`` or
        ``key = value`` line whose key is redacted, then credential-looking parts anywhere.

        Args:
            text: the file's content.
        """
        _check_text("text", text)
        if (":" in text or "=" in text) and self._may_hold_key(text):
            text = _ASSIGNMENT.sub(self._line, text)
        return self._scan(text, self.heuristics)

    def _line(self, match: re.Match[str]) -> str:
        if self._hidden(match["key"]):
            return match["head"] + MARKER
        return match.group(0)

    def redact_mapping(self, mapping: Mapping[str, str]) -> dict[str, str]:
        """A copy of a key → value dict (tags, params): each value redacted by its key, each
        key by ``redact_name``."""
        return {
            self.redact_name(k): self.redact_value(k, v) if isinstance(v, str) else v
            for k, v in mapping.items()
        }

    def redact_structure(self, value: Any) -> Any:
        """A copy of parsed JSON: dict values redacted by their keys, strings like documents,
        keys like names."""
        if isinstance(value, dict):
            return {
                self.redact_name(k) if isinstance(k, str) else k: MARKER
                if isinstance(k, str)
                and self._hidden(k)
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


@functools.lru_cache(maxsize=32)
def _key_hint(keys: tuple[str, ...]) -> re.Pattern[str] | None:
    """A search (in lower-cased text: faster than IGNORECASE) for the longest literal of each
    key glob (a text without any cannot hold a redacted key); None when a glob has none."""
    literals = []
    for glob in keys:
        pieces = re.split(r"\[[^\]]*\]|[*?]", glob)
        longest = max(pieces, key=len)
        if not longest:
            return None
        literals.append(re.escape(longest.lower()))
    return re.compile("|".join(literals)) if literals else None


def _random_parts(match: re.Match[str]) -> str:
    """A random-looking candidate as ``MARKER``, else with its random parts replaced."""
    token = match.group(0)
    if looks_random(token):
        return MARKER
    if not _PARTS.search(token):
        return token
    parts = _PARTS.split(token)
    return "".join(
        MARKER if len(p) >= MIN_RANDOM_LENGTH and looks_random(p) else p for p in parts
    )


def _digest(text: str) -> str:
    """A short, stable digest naming a redacted name (not the secret: 32 bits of a hash of the
    whole name)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_CHARS]


def _check_text(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"The {name} to redact must be a string, got {value!r}.")

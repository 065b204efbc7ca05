"""Stores and artifact locations in an S3 bucket (or any S3-compatible service: MinIO, Ceph, R2).

``s3://bucket/prefix`` is read and written through ``pyarrow.fs.S3FileSystem``. Two operations
go through boto3 (imported lazily, from the ``s3`` extra), because pyarrow has no equivalent:

* conditional create, ``put_object(..., IfNoneMatch="*")``: the store marker, registry version
  claims and the compaction lock rely on exactly one writer winning;
* delete, because pyarrow's delete writes an empty "folder" object in place of the last file of
  a prefix, and compaction would leave one behind for every run it consolidates.

Where the service is and how long to wait for it come from ``S3Options``: the endpoint from
``endpoint_url``, else ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL`` (else AWS itself); the
region from ``AWS_REGION``/``AWS_DEFAULT_REGION`` (default ``us-east-1``); credentials from the
standard AWS variables and files. ``configure(endpoint_url=...)`` sets the process-wide defaults
that ``s3://`` tracking URIs use.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from tracker.exceptions import InvalidArgumentError, StoreError
from tracker.store.fs import ArrowFS
from tracker.validation import is_http_url

if TYPE_CHECKING:
    from tracker.store.store import Store

__all__ = ["S3FS", "S3Options", "configure", "open_s3_fs", "open_s3_store", "split_s3_uri"]

DEFAULT_REGION = "us-east-1"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
CONFLICT_RETRIES = 5
# Words in pyarrow's and botocore's error texts (upper-cased) that say what went wrong.
_UNREACHABLE = (
    "NETWORK_CONNECTION",
    "COULD NOT CONNECT",
    "ENDPOINTCONNECTION",
    "TIMED OUT",
    "CONNECT TIMEOUT",
    "COULD NOT RESOLVE",
)
_REFUSED = (
    "ACCESS_DENIED",
    "ACCESSDENIED",
    "INVALIDACCESSKEYID",
    "INVALID_ACCESS_KEY_ID",
    "SIGNATURE",
    "FORBIDDEN",
    "NOCREDENTIALS",
    "UNABLE TO LOCATE CREDENTIALS",
)


@dataclass(frozen=True)
class S3Options:
    """How to reach S3. Unset fields fall back to the AWS environment variables.

    Args:
        endpoint_url: the service, e.g. ``http://127.0.0.1:9000`` for MinIO (None: the
            environment, else AWS). An ``http://`` endpoint is spoken to without TLS.
        region: the bucket's region (None: ``AWS_REGION``, ``AWS_DEFAULT_REGION``, us-east-1).
        connect_timeout: seconds to wait for a connection, so a mistyped endpoint fails fast.
        request_timeout: seconds to wait for an answer on an open connection.
        max_attempts: tries per request, the first included (bounded so errors surface).
        default_endpoint_url: the endpoint when neither ``endpoint_url`` nor the environment
            names one (the project config's ``[s3] endpoint_url``, for the CLI).
        default_region: likewise for the region (the config's ``[s3] region``).
    """

    endpoint_url: str | None = None
    region: str | None = None
    connect_timeout: float = 5.0
    request_timeout: float = 10.0
    max_attempts: int = 3
    default_endpoint_url: str | None = None
    default_region: str | None = None

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "request_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise InvalidArgumentError(
                    f"S3 option {name!r}: expected a positive number of seconds, got {value!r}."
                )
        attempts = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise InvalidArgumentError(
                f"S3 option 'max_attempts': expected an integer of at least 1, got {attempts!r}."
            )

    def resolved(self) -> S3Options:
        """These options with the endpoint and region filled in from the environment."""
        endpoint = (
            self.endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
            or self.default_endpoint_url
            or None
        )
        region = (
            self.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or self.default_region
            or DEFAULT_REGION
        )
        if endpoint is not None:
            _check_endpoint(endpoint)
        return replace(self, endpoint_url=endpoint, region=region)


_defaults = S3Options()
_filesystems: dict[S3Options, Any] = {}
_clients: dict[S3Options, Any] = {}
_cache_lock = threading.Lock()


def configure(**options: Any) -> S3Options:
    """Set the process-wide ``S3Options`` that ``s3://`` tracking URIs use; return them.

    Args:
        options: fields of ``S3Options`` (``endpoint_url``, ``region``, ``connect_timeout``,
            ``request_timeout``, ``max_attempts``); fields not given keep their current value.
    """
    global _defaults
    known = set(S3Options.__dataclass_fields__)
    unknown = sorted(set(options) - known)
    if unknown:
        raise InvalidArgumentError(
            f"Unknown S3 option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}."
        )
    for name in ("endpoint_url", "default_endpoint_url"):
        if options.get(name) is not None:
            _check_endpoint(options[name])
    _defaults = replace(_defaults, **options)
    return _defaults


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://bucket/prefix``; the prefix has no leading or trailing ``/``."""
    if not isinstance(uri, str) or not uri.lower().startswith("s3://"):
        raise InvalidArgumentError(f"Expected an s3://bucket/prefix URI, got {uri!r}.")
    bucket, _, prefix = uri[5:].partition("/")
    if not _BUCKET.match(bucket):
        raise InvalidArgumentError(
            f"S3 URI {uri!r}: {bucket!r} is not a valid bucket name (3-63 lowercase letters, "
            "digits, dots and hyphens)."
        )
    prefix = prefix.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise InvalidArgumentError(
            f"S3 URI {uri!r}: the prefix {prefix!r} has an empty, '.' or '..' segment."
        )
    return bucket, prefix


def open_s3_fs(uri: str, options: S3Options | None = None, *, check: bool = True) -> S3FS:
    """The filesystem rooted at ``s3://bucket/prefix``.

    Args:
        uri: the S3 URI.
        options: how to reach S3 (None: the ones set with ``configure`` and the environment).
        check: look the bucket up now, so a missing bucket or an unreachable endpoint is
            reported when the store is opened rather than at the first write.
    """
    bucket, prefix = split_s3_uri(uri)
    opts = (options or _defaults).resolved()
    fs = S3FS(_arrow_filesystem(opts), f"{bucket}/{prefix}".rstrip("/"), opts)
    if check:
        fs.check_bucket()
    return fs


def open_s3_store(uri: str, *, endpoint_url: str | None = None, region: str | None = None) -> Store:
    """Open the tracker store at ``s3://bucket/prefix``.

    Args:
        uri: the S3 URI of the store.
        endpoint_url: an S3-compatible service (None: ``configure`` and the environment).
        region: the bucket's region (None: ``configure`` and the environment).
    """
    from tracker.store.store import Store

    options = replace(
        _defaults,
        endpoint_url=endpoint_url or _defaults.endpoint_url,
        region=region or _defaults.region,
    )
    return Store(open_s3_fs(uri, options), uri)


class S3FS(ArrowFS):
    """A store or artifact location under ``bucket/prefix`` in S3.

    Args:
        filesystem: the ``pyarrow.fs.S3FileSystem``.
        base: ``bucket`` or ``bucket/prefix``.
        options: the resolved options (the boto3 client is made from the same ones).
    """

    scheme = "s3"

    def __init__(self, filesystem: Any, base: str, options: S3Options) -> None:
        super().__init__(filesystem, base)
        self.options = options
        self.bucket = base.split("/", 1)[0]

    def _key(self, path: str) -> str:
        return self.full_path(path).split("/", 1)[1]

    def check_bucket(self) -> None:
        """Raise a ``StoreError`` naming the bucket when it does not exist or cannot be reached."""
        import pyarrow.fs as pafs

        try:
            info = self.fs.get_file_info(self.bucket)
        except OSError as exc:
            raise self._error(exc, self.root) from exc
        if info.type == pafs.FileType.NotFound:
            raise StoreError(
                f"S3 bucket {self.bucket!r} does not exist at {self._where()}; create it "
                f"(e.g. `aws s3 mb s3://{self.bucket}`) or fix the URI."
            )

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """One conditional PUT: True when this call created the object, False when it existed."""
        client = _boto3_client(self.options)
        key = self._key(path)
        for attempt in range(CONFLICT_RETRIES):
            try:
                client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
                return True
            except Exception as exc:  # noqa: BLE001 - botocore's error classes are dynamic
                status, code = _client_status(exc)
                if status == 412 or code == "PreconditionFailed":
                    return False
                if status != 409 and code != "ConditionalRequestConflict":
                    raise self._client_error(exc, path) from exc
            # Another conditional write of the same key is in flight; its outcome decides.
            time.sleep(0.05 * 2**attempt)
        if self.exists(path):
            return False
        raise StoreError(
            f"Creating {self.uri(path)} kept conflicting with other writers "
            f"({CONFLICT_RETRIES} tries); try again."
        )

    def delete(self, path: str) -> None:
        client = _boto3_client(self.options)
        try:
            client.delete_object(Bucket=self.bucket, Key=self._key(path))
        except Exception as exc:  # noqa: BLE001 - botocore's error classes are dynamic
            raise self._client_error(exc, path) from exc

    def delete_many(self, paths: list[str]) -> None:
        """Delete objects 1,000 per request (S3's batch limit); missing ones are fine."""
        client = _boto3_client(self.options)
        for start in range(0, len(paths), 1000):
            batch = paths[start : start + 1000]
            objects = [{"Key": self._key(p)} for p in batch]
            try:
                answer = client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )
            except Exception as exc:  # noqa: BLE001 - botocore's error classes are dynamic
                raise self._client_error(exc, batch[0]) from exc
            errors = answer.get("Errors") or []
            if errors:
                first = errors[0]
                raise StoreError(
                    f"S3 did not delete {len(errors)} object(s) in {self.uri()}, e.g. "
                    f"{first.get('Key')!r}: {first.get('Code')} {first.get('Message')}"
                )

    def _where(self) -> str:
        return self.options.endpoint_url or f"AWS ({self.options.region})"

    def _error(self, exc: OSError, full: str) -> StoreError:
        return StoreError(describe_s3_error(str(exc), f"s3://{full}", self._where()))

    def _client_error(self, exc: Exception, path: str) -> StoreError:
        return StoreError(describe_s3_error(str(exc), self.uri(path), self._where()))


def describe_s3_error(detail: str, uri: str, where: str) -> str:
    """A message for an S3 failure that says what went wrong in words, and what to check."""
    detail = detail.strip().rstrip(".")
    text = detail.upper()
    if "NO_SUCH_BUCKET" in text or "NOSUCHBUCKET" in text:
        bucket = uri[5:].split("/", 1)[0]
        return f"S3 bucket {bucket!r} does not exist at {where} ({uri}); create it or fix the URI."
    if any(k in text for k in _UNREACHABLE):
        return (
            f"Cannot reach the S3 endpoint {where} for {uri}: {detail}. Check endpoint_url, "
            "AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and that the service is running."
        )
    if any(k in text for k in _REFUSED):
        return (
            f"S3 refused access to {uri} at {where}: {detail}. Check AWS_ACCESS_KEY_ID, "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's permissions."
        )
    return f"S3 request for {uri} at {where} failed: {detail}"


# -- clients ---------------------------------------------------------------------------------


def _check_endpoint(endpoint: str) -> None:
    if not is_http_url(endpoint):
        raise InvalidArgumentError(
            f"S3 endpoint {endpoint!r} must be an http:// or https:// URL with a host, "
            "e.g. 'http://127.0.0.1:9000'."
        )


def _arrow_filesystem(options: S3Options) -> Any:
    with _cache_lock:
        fs = _filesystems.get(options)
        if fs is None:
            import pyarrow.fs as pafs

            kwargs: dict[str, Any] = {}
            if options.endpoint_url:
                parsed = urlparse(options.endpoint_url)
                kwargs = {"endpoint_override": parsed.netloc, "scheme": parsed.scheme}
            fs = pafs.S3FileSystem(
                region=options.region,
                connect_timeout=options.connect_timeout,
                request_timeout=options.request_timeout,
                retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=options.max_attempts),
                # Small files go up as one PUT, not a three-request multipart upload.
                allow_delayed_open=True,
                **kwargs,
            )
            _filesystems[options] = fs
        return fs


def _boto3_client(options: S3Options) -> Any:
    with _cache_lock:
        client = _clients.get(options)
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:
                raise StoreError(
                    "Writing to an S3 store needs boto3 for conditional writes: "
                    "pip install 'tracker[s3]' (or pip install boto3)."
                ) from exc
            config = Config(
                connect_timeout=options.connect_timeout,
                read_timeout=options.request_timeout,
                retries={"max_attempts": options.max_attempts, "mode": "standard"},
                # Checksums only where S3 requires them: some S3-compatibles reject the rest.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            client = boto3.session.Session().client(
                "s3", endpoint_url=options.endpoint_url, region_name=options.region, config=config
            )
            _clients[options] = client
        return client


def _client_status(exc: Exception) -> tuple[int | None, str]:
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status, str(response.get("Error", {}).get("Code", ""))

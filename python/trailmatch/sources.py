"""Where CloudTrail data comes from: files, directories, globs, stdin and S3.

:func:`expand` turns the ``PATH`` arguments of ``trailmatch scan`` into :class:`Source` objects,
in a stable order (sorted names within a directory or prefix). A source is read lazily: local
files by the Rust core (the GIL is released while reading, decompressing and matching), stdin
and S3 objects into memory first.

Directories are walked recursively for files named like logs (:data:`LOG_SUFFIXES`: ``.json``,
``.json.gz``, ``.jsonl``, ``.gz``, ...); hidden files, other files (READMEs, licences) and
CloudTrail digest files (``*_CloudTrail-Digest_*``, which hold hashes, not events) are left out
and counted. A file named explicitly is always read, whatever its name.

Example:
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "a.json").write_text('{"Records": []}')
    15
    >>> (d / "sub").mkdir(); _ = (d / "sub" / "b.json.gz").write_bytes(b"")
    >>> _ = (d / "README.md").write_text("notes")
    >>> found = expand([str(d)])
    >>> [s.name.replace(str(d), "D") for s in found.sources], [r for _, r in found.ignored]
    (['D/a.json', 'D/sub/b.json.gz'], ['not a log file'])
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LOG_SUFFIXES", "Expanded", "Source", "SourceError", "expand", "s3_client"]

_GLOB_CHARS = frozenset("*?[")
#: Names of the files a directory walk reads (case-insensitive).
LOG_SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz", ".log", ".txt")


class SourceError(ValueError):
    """A ``PATH`` argument names nothing readable (a missing file, an empty glob, a bad S3 URL)."""


@dataclass(frozen=True)
class Source:
    """One input: a local file (``path``) or bytes produced by ``load`` (stdin, S3)."""

    name: str
    path: str | None = None
    load: Callable[[], bytes] | None = None
    size: int | None = None


@dataclass
class Expanded:
    """The sources of a scan, and what was left out (name, reason)."""

    sources: list[Source] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)


def _is_digest(name: str) -> bool:
    return "_CloudTrail-Digest_" in os.path.basename(name)


def _walk(root: str, out: Expanded) -> None:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=_raise):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            full = os.path.join(dirpath, f)
            if f.startswith("."):
                out.ignored.append((full, "hidden file"))
            elif _is_digest(f):
                out.ignored.append((full, "CloudTrail digest file"))
            elif not f.lower().endswith(LOG_SUFFIXES):
                out.ignored.append((full, "not a log file"))
            else:
                found.append(full)
    for full in sorted(found):
        out.sources.append(Source(full, path=full, size=_size(full)))


def _raise(e: OSError) -> None:
    raise SourceError(f"{e.filename}: cannot read the directory: {e.strerror}")


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _read_stdin() -> bytes:
    return sys.stdin.buffer.read()


def s3_client(endpoint_url: str | None = None) -> Any:
    """A boto3 S3 client; ``endpoint_url`` (or ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``,
    which boto3 reads itself) points it at an S3-compatible server.

    Raises:
        SourceError: boto3 is not installed.
    """
    try:
        import boto3
    except ImportError as e:
        raise SourceError(
            "reading s3:// paths needs boto3: pip install 'trailmatch[aws]' (or pip install boto3)"
        ) from e
    return boto3.client("s3", endpoint_url=endpoint_url) if endpoint_url else boto3.client("s3")


def _s3(url: str, out: Expanded, client_factory: Callable[[], Any]) -> None:
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise SourceError(f"{url}: an S3 path is s3://BUCKET[/PREFIX]")
    client = client_factory()
    keys: list[tuple[str, int]] = []
    try:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend((o["Key"], int(o.get("Size", 0))) for o in page.get("Contents", ()))
    except Exception as e:  # botocore raises many classes; all mean "cannot list"
        raise SourceError(f"{url}: cannot list the objects: {e}") from e
    if not keys:
        raise SourceError(f"{url}: no objects under this prefix")
    for key, size in sorted(keys):
        name = f"s3://{bucket}/{key}"
        if key.endswith("/"):
            continue
        if _is_digest(key):
            out.ignored.append((name, "CloudTrail digest file"))
            continue

        def load(key: str = key) -> bytes:
            body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            return body

        out.sources.append(Source(name, load=load, size=size))


def expand(paths: Iterable[str], *, s3_endpoint_url: str | None = None) -> Expanded:
    """The sources named by ``paths`` (files, directories, globs, ``-`` for stdin, ``s3://``).

    Raises:
        SourceError: a path does not exist, a glob matches nothing, or S3 cannot be listed.
    """
    out = Expanded()
    client: list[Any] = []

    def factory() -> Any:
        if not client:
            client.append(s3_client(s3_endpoint_url))
        return client[0]

    for p in paths:
        if p == "-":
            out.sources.append(Source("<stdin>", load=_read_stdin))
        elif p.startswith("s3://"):
            _s3(p, out, factory)
        elif os.path.isdir(p):
            _walk(p, out)
        elif os.path.exists(p):
            out.sources.append(Source(p, path=p, size=_size(p)))
        elif _GLOB_CHARS & set(p):
            hits = sorted(glob.glob(p, recursive=True))
            if not hits:
                raise SourceError(f"{p}: the pattern matches no file")
            for h in hits:
                if os.path.isdir(h):
                    _walk(h, out)
                elif _is_digest(h):
                    out.ignored.append((h, "CloudTrail digest file"))
                else:
                    out.sources.append(Source(h, path=h, size=_size(h)))
        else:
            raise SourceError(f"{p}: no such file or directory")
    return out

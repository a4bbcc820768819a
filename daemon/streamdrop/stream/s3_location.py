"""Where an uploaded file sits for Import V2 (`settings.s3`): read from the upload URL (pure).

The official CLI derives the bucket and region from the presigned upload URL's
host (`<bucket>.s3.<region>.amazonaws.com`, path-style `s3.<region>...`) and
falls back to the region in the URL's SigV4 `X-Amz-Credential`; the `dir` is the
path create_import_url returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from streamdrop.stream.errors import ProtocolError


@dataclass(frozen=True, slots=True)
class S3Location:
    """Where an uploaded file sits, as Import V2's `settings.s3` names it."""

    bucket: str
    region: str
    dir: str

    def to_json(self) -> dict[str, str]:
        return {"bucket": self.bucket, "region": self.region, "dir": self.dir}


_AWS_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d+$")
_AWS_GLOBAL_REGION = "us-east-1"


def _credential_region(query: str) -> str | None:
    """The region inside a SigV4 presigned URL's `X-Amz-Credential` (key/date/region/s3/...)."""
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "X-Amz-Credential":
            parts = unquote(value).split("/")
            if len(parts) >= 3 and _AWS_REGION.match(parts[2]):
                return parts[2]
    return None


def _aws_host_location(labels: list[str], path: str) -> tuple[str, str] | None:
    """Bucket and region from an amazonaws.com host: virtual-hosted or path-style."""
    if len(labels) < 4 or labels[-2] != "amazonaws" or labels[-1] not in ("com", "cn"):
        return None
    if labels[1] == "s3" and len(labels) == 4:  # bucket.s3.amazonaws.com (global endpoint)
        return labels[0], _AWS_GLOBAL_REGION
    if labels[1] == "s3" and len(labels) == 5:  # bucket.s3.eu-west-1.amazonaws.com
        return labels[0], labels[2]
    if labels[1:3] == ["s3", "dualstack"] and len(labels) == 6:
        return labels[0], labels[3]
    if labels[0] == "s3" and len(labels) == 4 and _AWS_REGION.match(labels[1]):
        bucket = path.strip("/").split("/", 1)[0]  # path-style: s3.<region>.amazonaws.com/b/k
        return (bucket, labels[1]) if bucket else None
    return None


def s3_location(upload_url: str, uploaded_path: str) -> S3Location:
    """`settings.s3` for an upload URL, as the official CLI derives it: bucket and region from
    the host (`<bucket>.s3.<region>.amazonaws.com`, path-style `s3.<region>...`), else the
    region of the URL's signature with the bucket before `.s3` in the host or, for an
    S3-compatible store addressed path-style (the emulator), the first path segment.
    `dir` is the path create_import_url returned. ProtocolError when nothing fits.
    """
    parts = urlsplit(upload_url)
    host = (parts.hostname or "").lower()
    labels = host.split(".")
    found = _aws_host_location(labels, parts.path)
    if found is None:
        region = _credential_region(parts.query)
        if ".s3" in host[1:]:  # virtual-hosted variants (transfer acceleration, ...)
            bucket = host[: host.index(".s3")]
        else:
            bucket = parts.path.strip("/").split("/", 1)[0]
        if region is None or not bucket:
            # Only the scheme and host: the query of a presigned URL is its secret.
            raise ProtocolError(f"cannot tell the S3 bucket and region of the upload URL "
                                f"({parts.scheme}://{host})")
        found = (bucket, region)
    return S3Location(bucket=found[0], region=found[1], dir=uploaded_path)

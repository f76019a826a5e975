"""A real S3 API on loopback (moto's server, over HTTP) for the remote-store tests.

Workers find S3 the standard way: ``AWS_ENDPOINT_URL`` and the ``AWS_*`` credentials in their environment,
exactly as they would for MinIO or any S3-compatible store.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

BUCKET = "eltrepro-test"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto in server mode on 127.0.0.1 (a free port); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture()
def s3_store(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty ``s3://`` store URL in a fresh bucket of the loopback server, with the environment set."""
    import boto3
    import s3fs

    for name, value in {
        "AWS_ENDPOINT_URL": s3_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"{BUCKET}-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    s3fs.S3FileSystem.clear_instance_cache()  # a cached client would keep an earlier endpoint
    yield f"s3://{bucket}/store"
    s3fs.S3FileSystem.clear_instance_cache()


def s3_keys(url: str) -> list[str]:
    """Every object key under an ``s3://bucket/prefix`` URL, read with boto3 (not through fsspec)."""
    import boto3

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

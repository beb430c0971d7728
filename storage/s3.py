"""An S3-compatible bucket as the store (`SCRM_STORAGE=s3`): AWS S3, MinIO, Ceph, or a cloud's S3 mode.
boto3 is the `s3` extra (`pip install 'wecom-scrm[s3]'`): an install on local disk does not carry it.
The bucket must exist; the service never creates or configures buckets."""

from __future__ import annotations

from typing import IO, Any

from config import ConfigError, S3Settings
from storage import Missing, checked, new_key


class S3Storage:
    def __init__(self, settings: S3Settings) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ConfigError("SCRM_STORAGE=s3 needs boto3: pip install 'wecom-scrm[s3]'") from None
        self.bucket = settings.bucket
        self.client: Any = boto3.client(
            "s3", endpoint_url=settings.endpoint_url, region_name=settings.region,
            aws_access_key_id=settings.access_key_id, aws_secret_access_key=settings.secret_access_key,
            config=Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"}))

    def put(self, data: IO[bytes], content_type: str) -> str:
        key = new_key()
        self.client.upload_fileobj(data, self.bucket, key, ExtraArgs={"ContentType": content_type})
        return key

    def open(self, key: str) -> IO[bytes]:
        from botocore.exceptions import ClientError

        try:
            body: IO[bytes] = self.client.get_object(Bucket=self.bucket, Key=checked(key))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise Missing(key) from None
            raise
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=checked(key))

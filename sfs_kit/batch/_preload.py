"""Imported once by the local engine's forkserver, so each forked worker starts warm."""

from __future__ import annotations

import boto3  # noqa: F401
import numpy  # noqa: F401

import sfs_kit.batch.worker
import sfs_kit.capture.convert
import sfs_kit.capture.layout
import sfs_kit.pipeline.run
import sfs_kit.storage.s3
import sfs_kit.submit.client  # noqa: F401

"""Real servers the tests start and stop themselves (SeaweedFS for S3)."""

"""The s3 resource type: a bucket prefix recorded as a manifest of object versions."""

"""S3 client helpers and the s3 resource type, against a local SeaweedFS server."""

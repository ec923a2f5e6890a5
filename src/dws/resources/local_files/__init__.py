"""The local-files resource type: a directory inside or outside the workspace."""

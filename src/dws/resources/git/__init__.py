"""The git resource type: a repository whose commit, branch and uncommitted changes are recorded."""

"""Remotes: push, pull, clone, and the remote's gc and fsck (docs/remotes.md).

``layout`` names every key on a remote; ``records`` reads and checks what is there beside
the objects; ``config`` is the ``remotes`` section of config.json, ``open`` connects to a
remote and checks it holds this workspace; ``cache`` is what this machine knows a remote
holds; ``walk`` finds the objects a snapshot needs. The use cases are ``push``, ``pull``,
``clone`` and ``maintenance``. Nothing is imported here: commands load only what they use.
"""

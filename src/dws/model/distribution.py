"""This project's name on the package index (the command and the import package are both
``dws``; the index name ``dws`` belongs to another project) and how to install its
optional parts."""

from __future__ import annotations

DISTRIBUTION = "dws-workspaces"


def install_hint(extra: str, needs: str) -> str:
    """One line saying that ``needs`` comes with the optional ``extra`` and how to get it."""
    return (
        f"{needs}: install the {extra} extra (pip install '{DISTRIBUTION}[{extra}]', or in a "
        f"clone of the project: python -m pip install -e '.[{extra}]')"
    )

"""Every msgspec struct of the package can be inspected at run time: ``help()``,
``inspect.signature`` and debuggers evaluate its annotations, so none may name a type
imported only for type checking."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import msgspec
import pytest

import dws


def _structs() -> list[type[msgspec.Struct]]:
    found: dict[str, type[msgspec.Struct]] = {}
    for module_info in pkgutil.walk_packages(dws.__path__, "dws."):
        try:
            module = importlib.import_module(module_info.name)
        except ImportError:  # an optional extra that is not installed
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, msgspec.Struct)
                and value.__module__ == module.__name__
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


STRUCTS = _structs()


def test_the_package_has_structs_to_check() -> None:
    assert len(STRUCTS) > 50


@pytest.mark.parametrize("struct", STRUCTS, ids=lambda s: f"{s.__module__}.{s.__qualname__}")
def test_a_struct_signature_can_be_taken(struct: type[msgspec.Struct]) -> None:
    inspect.signature(struct)

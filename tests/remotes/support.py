"""The helpers of tests/conftest.py (run_dws, write_files, manifest) for this package,
whatever name pytest imported that conftest under, and the crash-point runner."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
CRASHPOINT = HERE.parent / "failure" / "crashpoint.py"


def _root_conftest() -> ModuleType:
    path = (HERE.parent / "conftest.py").resolve()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve() == path:
            return module
    spec = importlib.util.spec_from_file_location("_dws_tests_root_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_root = _root_conftest()
Result: Any = _root.Result
run_dws: Any = _root.run_dws
write_files: Any = _root.write_files
manifest: Any = _root.manifest

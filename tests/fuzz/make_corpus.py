"""Write the crafted corpus (seeds.py) to corpus/<decoder>/: ``python -m tests.fuzz.make_corpus``
from the repository root. Existing files are kept (inputs found by fuzzing are added by hand
as ``refuse-bug-*``); crafted ones are rewritten."""

from __future__ import annotations

from .seeds import CASES
from .support import CORPUS


def main() -> None:
    for decoder, build in CASES.items():
        folder = CORPUS / decoder
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in build().items():
            (folder / name).write_bytes(data)


if __name__ == "__main__":
    main()

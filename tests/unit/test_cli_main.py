"""How `dws.cli.main.main` turns what a command raised into an exit code."""

from __future__ import annotations

from typing import Any

import pytest

from dws.cli import main as cli_main


def _raising(exc: BaseException) -> Any:
    def fake_main(*_args: object, **_kwargs: object) -> None:
        raise exc

    return fake_main


def _exit_code(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> object:
    monkeypatch.setattr(cli_main.cli, "main", _raising(exc))
    with pytest.raises(SystemExit) as exited:
        cli_main.main(["status"])
    return exited.value.code


def _cleanup_error_during_interrupt() -> RuntimeError:
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            # what a thread pool's shutdown raises when the interrupt stopped a thread mid-start
            raise RuntimeError("cannot join thread before it is started") from None
    except RuntimeError as exc:
        return exc


def test_ctrl_c_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(monkeypatch, KeyboardInterrupt()) == 130
    assert "interrupted" in capsys.readouterr().err


def test_an_error_raised_while_ctrl_c_unwinds_is_still_an_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exc = _cleanup_error_during_interrupt()
    assert isinstance(exc.__context__, KeyboardInterrupt)
    assert _exit_code(monkeypatch, exc) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err
    assert "internal error" not in err


def test_an_unexpected_error_is_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(monkeypatch, RuntimeError("boom")) == 1
    assert "internal error: RuntimeError: boom" in capsys.readouterr().err

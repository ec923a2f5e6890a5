"""Helpers of the test suite, importable from every folder (``tests`` is on pytest's
``pythonpath``); conftest.py files hold fixtures only."""

"""The file-event recorder `dws run` loads into Python processes (see recorder.py).

This directory goes first on the child's ``PYTHONPATH``; its ``sitecustomize`` starts the
recorder. Nothing here imports dws: the child may run another Python and another
environment."""

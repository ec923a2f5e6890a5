"""The strace observer (Linux only): ``tracer`` runs a command under strace, ``parse``
turns the log it wrote into a ``TraceResult``, ``syntax`` reads strace's notation of one
call. Only a run that may be traced imports these modules (other commands start faster
without them); the package itself imports nothing."""

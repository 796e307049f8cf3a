"""Real processes for the test suite (tests/) and the benchmark (bench/):
servers started as subprocesses on loopback, waited for, measured, stopped.
Neither of those imports the other; both import this."""

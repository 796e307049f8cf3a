"""A test app whose receivers write every signal of the service to the file
named by SIGNAL_LOG, one JSON line each, and one receiver that always raises."""

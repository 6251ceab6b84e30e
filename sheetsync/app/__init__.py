"""The commands and the daemon: thin shells over the library (cli, daemon, check, init, demo,
report, logs, lock)."""

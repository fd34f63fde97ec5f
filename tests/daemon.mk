# tests of the daemon area (included by tests/local.mk)

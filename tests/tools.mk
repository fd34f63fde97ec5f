# tests of the tools area (included by tests/local.mk)

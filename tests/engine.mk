# tests of the engine area (included by tests/local.mk)

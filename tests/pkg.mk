# tests of the pkg area (included by tests/local.mk)

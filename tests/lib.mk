# tests of the lib area (included by tests/local.mk)

# tests of the browser area (included by tests/local.mk)

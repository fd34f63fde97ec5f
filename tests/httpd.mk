# tests of the httpd area (included by tests/local.mk)

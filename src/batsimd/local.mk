# src/batsimd: rules for this area (included by the top Makefile.am)

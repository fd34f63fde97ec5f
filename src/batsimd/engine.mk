# engine of batsimd (physics, CPU backend): a static library linked by batsimd, the tests and benchmarks
#
# Link line for any program that uses the engine (batsimd, tests, bench):
#   prog_LDADD = $(ENGINE_LIBS) ...
# ENGINE_LIBS carries the library, libbscommon (chemistry presets), libm,
# pthreads and, when CUDA is on, the
# static CUDA runtime and the C++ runtime its objects need.  The CUDA
# objects (cuda/local.mk) are put into the same static library.
noinst_LIBRARIES = src/batsimd/libbsengine.a
src_batsimd_libbsengine_a_SOURCES = \
	src/batsimd/engine.h \
	src/batsimd/model.h \
	src/batsimd/rng.h \
	src/batsimd/engine_internal.h \
	src/batsimd/engine.c \
	src/batsimd/engine_cpu.c \
	src/batsimd/engine_faults.c \
	src/batsimd/ageing.c \
	src/batsimd/ageing.h \
	src/batsimd/bms.c \
	src/batsimd/profile.c \
	src/batsimd/operator.c \
	src/batsimd/chemtables.c
ENGINE_CPPFLAGS = -I$(top_srcdir)/src/batsimd -I$(top_srcdir)/cuda
src_batsimd_libbsengine_a_CPPFLAGS = $(AM_CPPFLAGS) $(ENGINE_CPPFLAGS)
# -ffp-contract=off: the compensated charge sum (model.h bsm_acc) needs
# strictly rounded additions; nvcc gets -fmad=false for the same reason
# and so that both backends round alike.
src_batsimd_libbsengine_a_CFLAGS = $(AM_CFLAGS) -ffp-contract=off

# The chemistry presets and tables (src/common/chemistry.c) are in
# src/common/libbscommon.la, which therefore follows the engine library
# on the link line.
ENGINE_LIBS = src/batsimd/libbsengine.a src/common/libbscommon.la \
	$(LIBM) $(PTHREAD_LIBS)
if HAVE_CUDA
ENGINE_LIBS += $(CUDA_LDFLAGS) $(CUDA_LIBS) -lstdc++
endif

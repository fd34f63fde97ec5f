# cuda: rules for this area (included by the top Makefile.am)
#
# The CUDA backend of the engine (engine_cuda.cu) compiled by nvcc into an
# object that goes into src/batsimd/libbsengine.a (libtool has no CUDA
# tag).  Host code is C++17 (CUDA 13); gcc flags reach the host compiler
# through -Xcompiler only.  Link with $(ENGINE_LIBS) (src/batsimd/engine.mk).
EXTRA_DIST += cuda/engine_cuda.cu cuda/engine_cuda.h

SUFFIXES = .cu
AM_V_NVCC = $(am__v_NVCC_@AM_V@)
am__v_NVCC_ = $(am__v_NVCC_@AM_DEFAULT_V@)
am__v_NVCC_0 = @echo "  NVCC    " $@;
am__v_NVCC_1 =
NVCC_HOSTFLAGS = $(foreach f,$(CFLAGS),-Xcompiler $(f)) -Xcompiler -fPIC
# CPPFLAGS may carry gcc-only options (Debian's dpkg-buildflags add
# -Wdate-time, which nvcc rejects): -D, -U and -I go to nvcc, the rest to
# the host compiler.
NVCC_CPPFLAGS = $(foreach f,$(CPPFLAGS),$(if $(filter -D% -U% -I%,$(f)),$(f),-Xcompiler $(f)))
NVCC_COMPILE = $(NVCC) $(NVCC_CCBIN) -std=c++17 -O2 -fmad=false \
	$(NVCC_ARCHFLAGS) $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) \
	$(ENGINE_CPPFLAGS) $(CUDA_CPPFLAGS) $(NVCC_CPPFLAGS) $(NVCC_HOSTFLAGS) \
	$(NVCCFLAGS)

.cu.o:
	@$(MKDIR_P) $(@D)
	$(AM_V_NVCC)$(NVCC_COMPILE) -c -o $@ $<

if HAVE_CUDA
src_batsimd_libbsengine_a_LIBADD = cuda/engine_cuda.o
cuda/engine_cuda.o: $(top_srcdir)/src/batsimd/model.h \
	$(top_srcdir)/cuda/engine_cuda.h
CLEANFILES += cuda/engine_cuda.o
endif

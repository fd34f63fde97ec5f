# batsim_cuda.m4 - optional CUDA toolkit detection (after UCX's cuda.m4).
#
# --with-cuda[=DIR]   use CUDA (DIR defaults to /usr/local/cuda); default:
#                     use it when nvcc and cudart_static are found
# --with-cuda-arch=A  nvcc -gencode list, e.g. "sm_87" or "sm_90,sm_87"
# --with-nvcc-ccbin=C host compiler for nvcc (e.g. g++-10 on Jetson)
# NVCC, NVCCFLAGS     precious variables
#
# Defines HAVE_CUDA, substitutes NVCC, NVCCFLAGS, CUDA_CPPFLAGS,
# CUDA_LDFLAGS, CUDA_LIBS, NVCC_ARCHFLAGS, NVCC_CCBIN and the conditional
# HAVE_CUDA on every path.
AC_DEFUN([BATSIM_CHECK_CUDA], [
AC_ARG_VAR([NVCC], [CUDA compiler])
AC_ARG_VAR([NVCCFLAGS], [extra flags for nvcc])
AC_ARG_WITH([cuda],
  [AS_HELP_STRING([--with-cuda@<:@=DIR@:>@],
    [build the CUDA backend (DIR: toolkit prefix, default /usr/local/cuda); default: when found])],
  [], [with_cuda=guess])
AC_ARG_WITH([cuda-arch],
  [AS_HELP_STRING([--with-cuda-arch=LIST],
    [comma-separated GPU architectures, e.g. sm_87,sm_90 (default: sm_75,sm_80,sm_87,sm_90 + PTX)])],
  [], [with_cuda_arch=default])
AC_ARG_WITH([nvcc-ccbin],
  [AS_HELP_STRING([--with-nvcc-ccbin=CXX], [host C++ compiler for nvcc (-ccbin)])],
  [], [with_nvcc_ccbin=no])

have_cuda=no
CUDA_CPPFLAGS=
CUDA_LDFLAGS=
CUDA_LIBS=
AS_IF([test "x$with_cuda" != xno], [
  AS_CASE([$with_cuda],
    [yes|guess], [cuda_dir=/usr/local/cuda],
    [cuda_dir=$with_cuda])
  AS_IF([test -z "$NVCC"],
    [AC_PATH_PROG([NVCC], [nvcc], [], [$cuda_dir/bin$PATH_SEPARATOR$PATH])])
  AS_IF([test -n "$NVCC"], [
    save_CPPFLAGS=$CPPFLAGS; save_LDFLAGS=$LDFLAGS; save_LIBS=$LIBS
    CUDA_CPPFLAGS="-I$cuda_dir/include"
    AS_IF([test -d "$cuda_dir/lib64"], [cuda_libdir=$cuda_dir/lib64],
          [test -d "$cuda_dir/targets/$host_cpu-linux/lib"],
          [cuda_libdir=$cuda_dir/targets/$host_cpu-linux/lib],
          [cuda_libdir=$cuda_dir/lib])
    CUDA_LDFLAGS="-L$cuda_libdir"
    CPPFLAGS="$CPPFLAGS $CUDA_CPPFLAGS"
    LDFLAGS="$LDFLAGS $CUDA_LDFLAGS"
    AC_CHECK_HEADER([cuda_runtime_api.h], [
      AC_CHECK_LIB([cudart_static], [cudaGetDeviceCount],
        [have_cuda=yes; CUDA_LIBS="-lcudart_static -ldl -lrt -lpthread"],
        [], [-ldl -lrt -lpthread])])
    CPPFLAGS=$save_CPPFLAGS; LDFLAGS=$save_LDFLAGS; LIBS=$save_LIBS
  ])
  AS_IF([test "x$have_cuda" = xno && test "x$with_cuda" != xguess],
    [AC_MSG_ERROR([--with-cuda was given but nvcc or cudart_static was not found in $cuda_dir; install the CUDA toolkit or use --without-cuda])])
])

NVCC_ARCHFLAGS=
AS_IF([test "x$have_cuda" = xyes], [
  AS_IF([test "x$with_cuda_arch" = xdefault],
    [with_cuda_arch="sm_75,sm_80,sm_87,sm_90"])
  for a in `echo "$with_cuda_arch" | tr ',' ' '`; do
    n=`echo "$a" | sed 's/^sm_//; s/^compute_//'`
    NVCC_ARCHFLAGS="$NVCC_ARCHFLAGS -gencode arch=compute_$n,code=sm_$n"
  done
  # PTX of the last one, so newer GPUs can JIT it
  NVCC_ARCHFLAGS="$NVCC_ARCHFLAGS -gencode arch=compute_$n,code=compute_$n"
  AC_DEFINE([HAVE_CUDA], [1], [Define to 1 to build the CUDA backend.])
])
# The host compiler for nvcc: checked here, so that a missing or
# unsupported one is a configure error, not a failure inside nvcc at make.
NVCC_CCBIN=
nvcc_ccbin_desc="nvcc's default"
AS_IF([test "x$with_nvcc_ccbin" = xyes],
  [AC_MSG_ERROR([--with-nvcc-ccbin needs a compiler, e.g. --with-nvcc-ccbin=g++-10])])
AS_IF([test "x$with_nvcc_ccbin" != xno], [
  AS_IF([test "x$have_cuda" != xyes], [
    nvcc_ccbin_desc="$with_nvcc_ccbin (unused: no CUDA backend)"
  ], [
    AC_PATH_PROG([nvcc_ccbin_path], [$with_nvcc_ccbin])
    AS_IF([test -z "$nvcc_ccbin_path"],
      [AC_MSG_ERROR([--with-nvcc-ccbin=$with_nvcc_ccbin: no such compiler in PATH; install it (e.g. apt install $with_nvcc_ccbin) or give its full path, or leave the option out to use nvcc's default])])
    AC_MSG_CHECKING([whether $NVCC accepts -ccbin $nvcc_ccbin_path])
    echo '__global__ void batsim_conftest(void) {}' > conftest.cu
    AS_IF([$NVCC -ccbin "$nvcc_ccbin_path" -c conftest.cu -o conftest.$OBJEXT >conftest.err 2>&1],
      [AC_MSG_RESULT([yes]); rm -f conftest.cu conftest.$OBJEXT conftest.err],
      [AC_MSG_RESULT([no])
       sed 's/^/  /' conftest.err >&AS_MESSAGE_FD
       rm -f conftest.cu conftest.$OBJEXT conftest.err
       AC_MSG_ERROR([$NVCC cannot use $nvcc_ccbin_path as its host compiler (see above: usually a version this CUDA release does not support); choose another with --with-nvcc-ccbin])])
    NVCC_CCBIN="-ccbin $nvcc_ccbin_path"
    nvcc_ccbin_desc=$nvcc_ccbin_path
  ])
])
AC_SUBST([CUDA_CPPFLAGS])
AC_SUBST([CUDA_LDFLAGS])
AC_SUBST([CUDA_LIBS])
AC_SUBST([NVCC_ARCHFLAGS])
AC_SUBST([NVCC_CCBIN])
AM_CONDITIONAL([HAVE_CUDA], [test "x$have_cuda" = xyes])
])

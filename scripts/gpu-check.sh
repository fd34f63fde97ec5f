#!/bin/sh
# scripts/gpu-check.sh [BUILDDIR]
#
# On a machine with an NVIDIA GPU and the CUDA toolkit, in one call: build
# the engine with CUDA, run the CUDA-vs-CPU agreement test
# (tests/unit/test_backends) and the engine benchmark
# (tests/bench/bench_engine), printing everything.  Record the output in
# docs/PERFORMANCE.md.
#
# It builds with autotools (configure --with-cuda) when the build
# dependencies are installed, and otherwise compiles the engine, the test
# and the benchmark directly with nvcc and cc (they need neither Check nor
# the daemon's libraries); GPU_CHECK_DIRECT=1 forces that.  Exit status: that of the agreement test (0
# pass, 1 fail, 77 no GPU), or 2 when the build fails.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-/tmp/batsim-gpu-check}
jobs=$(nproc 2>/dev/null || echo 4)

echo "== batsim gpu-check: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -nm)"
echo "== source $src  build $build"
if [ -z "${NVCC:-}" ]; then
	NVCC=$(command -v nvcc || true)
	[ -n "$NVCC" ] || [ ! -x /usr/local/cuda/bin/nvcc ] ||
		NVCC=/usr/local/cuda/bin/nvcc
fi
if [ -z "$NVCC" ]; then
	echo "gpu-check: nvcc not found: install the CUDA toolkit or set NVCC" >&2
	exit 2
fi
cuda_dir=$(dirname "$(dirname "$NVCC")")
"$NVCC" --version | tail -2
if command -v nvidia-smi >/dev/null 2>&1; then
	nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total \
		--format=csv || nvidia-smi
	cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null |
		head -1 | tr -d ' .')
else
	echo "gpu-check: nvidia-smi not found (no driver?)"
	cap=
fi
arch=${CUDA_ARCH:-${cap:+sm_$cap}}
arch=${arch:-sm_90}
echo "== GPU architecture: $arch"
echo "== CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $jobs CPUs"

mkdir -p "$build"
built=
# 1. autotools, when the tree can be configured here
if [ ! -x "$src/configure" ] && command -v autoreconf >/dev/null 2>&1; then
	(cd "$src" && autoreconf -fi >/dev/null 2>&1)
fi
if [ -x "$src/configure" ] && [ "${GPU_CHECK_DIRECT:-0}" != 1 ]; then
	echo "== configure --with-cuda=$cuda_dir --with-cuda-arch=$arch"
	if (cd "$build" && "$src/configure" --disable-maintainer-mode \
		--enable-silent-rules --with-cuda="$cuda_dir" \
		--with-cuda-arch="$arch" NVCC="$NVCC" >configure.out 2>&1); then
		if make -C "$build" -j"$jobs" src/batsimd/libbsengine.a \
			tests/unit/test_backends tests/bench/bench_engine; then
			built=autotools
			test_bin=$build/tests/unit/test_backends
			bench_bin=$build/tests/bench/bench_engine
		fi
	else
		echo "== configure failed (missing build dependencies?):"
		tail -3 "$build/configure.out"
	fi
fi
# 2. direct build of the engine alone
if [ -z "$built" ]; then
	echo "== direct build (nvcc + cc)"
	d=$build/direct
	mkdir -p "$d"
	cat >"$d/config.h" <<EOC
#define HAVE_CUDA 1
#define PACKAGE_VERSION "gpu-check"
EOC
	inc="-I$d -I$src/src/lib -I$src/src/common -I$src/src/batsimd -I$src/cuda -I$src/tests/unit"
	cflags="-std=gnu11 -O2 -g -ffp-contract=off -pthread -Wall -Wextra -Wno-unused-parameter"
	set -e
	"$NVCC" -std=c++17 -O2 -fmad=false -gencode "arch=compute_${arch#sm_},code=$arch" \
		$inc -I"$cuda_dir/include" -Xcompiler -fPIC \
		-c "$src/cuda/engine_cuda.cu" -o "$d/engine_cuda.o"
	objs="$d/engine_cuda.o"
	for f in engine engine_cpu engine_faults bms profile chemistry; do
		${CC:-cc} $cflags $inc -c "$src/src/batsimd/$f.c" -o "$d/$f.o"
		objs="$objs $d/$f.o"
	done
	libs="-L$cuda_dir/lib64 -L$cuda_dir/targets/$(uname -m)-linux/lib -lcudart_static -ldl -lrt -lpthread -lstdc++ -lm"
	${CC:-cc} $cflags $inc "$src/tests/unit/test_backends.c" $objs $libs \
		-o "$d/test_backends"
	${CC:-cc} $cflags $inc "$src/tests/bench/bench_engine.c" $objs $libs \
		-o "$d/bench_engine"
	set +e
	built=direct
	test_bin=$d/test_backends
	bench_bin=$d/bench_engine
fi
[ -n "$built" ] || { echo "gpu-check: build failed" >&2; exit 2; }

echo "== test_backends (CUDA vs CPU agreement)"
"$test_bin"
rc=$?
echo "== test_backends exit status $rc"

echo "== bench_engine, default site 20x10x32"
"$bench_bin" --seconds 2
echo "== bench_engine, 64x64x256 = 1,048,576 cells"
"$bench_bin" --topology 64x64x256 --seconds 3
echo "== bench_engine, 16x32x256 = 131,072 cells"
"$bench_bin" --topology 16x32x256 --seconds 2
echo "== gpu-check done ($built build), agreement test exit status $rc"
exit $rc

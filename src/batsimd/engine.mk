# engine of batsimd (physics, CPU backend): a static library linked by batsimd, the tests and benchmarks

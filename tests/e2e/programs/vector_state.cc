// vector_state: floating-point and vector registers live across ticks.
// The gcc plugin's tick calls declare no clobbers, so the compiler keeps
// values in xmm/ymm registers across them; the counter's slow path (taken
// at every tick under `record --timeslice 1`) must give them back intact.
// Prints sums that any corrupted register would change.
//
// Usage: vector_state [n]
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

[[gnu::noinline]] double harmonic(int n) {
  double sum = 0.0;
  double scale = 1.0 + 1.0 / 1024;
  for (int i = 1; i <= n; ++i) {
    sum += scale / i;  // sum and scale stay in xmm registers across the loop's tick
    scale *= 0.9999;
  }
  return sum;
}

// Vectorized: `a` stays broadcast in an xmm (or ymm) register across ticks.
[[gnu::noinline]] void saxpy(float* __restrict y, const float* __restrict x, float a, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

[[gnu::noinline, gnu::target("avx2")]] void saxpy_avx2(float* __restrict y,
                                                       const float* __restrict x, float a, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

[[gnu::noinline]] double vector_sum(int n) {
  static float x[4096], y[4096];
  for (int i = 0; i < 4096; ++i) {
    x[i] = static_cast<float>(i % 17) * 0.25f;
    y[i] = 1.0f;
  }
  const bool avx2 = __builtin_cpu_supports("avx2");
  for (int round = 0; round < n; ++round) {
    const float a = 0.001f * static_cast<float>(round % 5 + 1);
    if (avx2 && round % 2 == 1) {
      saxpy_avx2(y, x, a, 4096);
    } else {
      saxpy(y, x, a, 4096);
    }
  }
  double sum = 0.0;
  for (float v : y) sum += v;
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  double h2 = 0.0;
  std::thread other([&] { h2 = harmonic(n * 3); });
  const double h1 = harmonic(n);
  const double v = vector_sum(n / 100 + 1);
  other.join();
  std::printf("vector_state: harmonic %.17g %.17g vector %.17g\n", h1, h2, v);
  return 0;
}

#include "spin.h"

void spin_until(const int* turn, int value) {
  while (__atomic_load_n(turn, __ATOMIC_SEQ_CST) != value) {
  }
}

void spin_pass(int* turn) { __atomic_fetch_add(turn, 1, __ATOMIC_SEQ_CST); }

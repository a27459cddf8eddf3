// Spinning in C: only ticks (from backstep-cc or pkg-config's flags) let
// backstep's recorder preempt a thread waiting here.
#pragma once
#ifdef __cplusplus
extern "C" {
#endif
// Waits, without a syscall, until *turn == value.
void spin_until(const int* turn, int value);
// Adds one to *turn.
void spin_pass(int* turn);
#ifdef __cplusplus
}
#endif

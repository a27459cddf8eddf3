// The shop's stock: a map from item to count, restocked by a pool of
// workers and audited by another thread, with no lock (the race under test).
#pragma once

#include <atomic>

#include "gomap/go_map.h"

using Stock = backstep::GoMap<int, int>;

inline constexpr int kItems = 64;

// Set when the pool's last round is done.
extern std::atomic<bool> g_restocked;

// One round: every item's count set to `round` (items exist already, so the
// map never grows: the only way to fail is Go's fatal check).
void restock(Stock& stock, int round);

// The sum over a range loop of the stock.
long audit(Stock& stock);

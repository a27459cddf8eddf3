#include "stock.h"

std::atomic<bool> g_restocked{false};

void restock(Stock& stock, int round) {
  for (int item = 0; item < kItems; ++item) {
    stock.put(item, round);  // @restock-put
  }
}

long audit(Stock& stock) {
  long sum = 0;
  for (auto [item, count] : stock) {  // @audit-range
    sum += item + count;
  }
  return sum;
}

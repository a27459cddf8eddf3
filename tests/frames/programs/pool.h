// A pool of worker threads, each running a lambda that calls back into the
// pool: the shape of a real thread pool.
#pragma once

#include <thread>
#include <vector>

#include "stock.h"

class Pool {
 public:
  Pool(Stock& stock, int workers, long rounds);
  ~Pool();  // joins the workers
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

 private:
  void worker_loop(int id);

  Stock& stock_;
  long rounds_;
  std::vector<std::thread> threads_;
};

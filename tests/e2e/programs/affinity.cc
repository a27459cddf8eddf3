// Prints how many CPUs its threads may run on, as sched_getaffinity says:
// the main thread, a second thread, the second thread again after pinning
// itself to its first CPU, and the main thread once more. Under
// `record --bind-cpu` the output must be the native one.
// `affinity status` prints instead the CPUs /proc/self/status allows, where
// the recorder's binding shows.
#include <pthread.h>
#include <sched.h>

#include <cstdio>
#include <cstring>

namespace {

int count_self() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
  return CPU_COUNT(&set);
}

int pinned_count = 0;
int thread_count = 0;

void* worker(void*) {
  cpu_set_t set;
  CPU_ZERO(&set);
  pthread_getaffinity_np(pthread_self(), sizeof set, &set);
  thread_count = CPU_COUNT(&set);
  int first = 0;
  while (first < CPU_SETSIZE && !CPU_ISSET(first, &set)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0) pinned_count = count_self();
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "status") == 0) {
    FILE* status = std::fopen("/proc/self/status", "r");
    char line[512];
    while (status && std::fgets(line, sizeof line, status)) {
      if (std::strncmp(line, "Cpus_allowed_list:", 18) == 0) std::fputs(line, stdout);
    }
    return 0;
  }
  int before = count_self();
  pthread_t t;
  pthread_create(&t, nullptr, worker, nullptr);
  pthread_join(t, nullptr);
  std::printf("affinity: main %d, thread %d, pinned %d, main %d\n", before, thread_count,
              pinned_count, count_self());
  return 0;
}

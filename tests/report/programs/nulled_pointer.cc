// A pointer nulled by one thread and dereferenced later by another, through
// a copy: the reader copies the table's pointer into a cursor on its stack
// and reads through the cursor. The report's dataflow must follow the bad
// pointer from the faulting read back to the cursor's copy and from there
// to the store that nulled it (the line marked NULLS below), in the janitor
// thread. The threads run one after the other (joined), so every run
// crashes the same way.
#include <cstddef>
#include <cstdio>
#include <thread>

namespace {

struct Table {
  int* data;
  size_t size;
};

int g_rows[8] = {1, 2, 3, 4, 5, 6, 7, 8};
Table g_table{g_rows, 8};

[[gnu::noinline]] void janitor() {
  g_table.data = nullptr;  // NULLS the table's pointer
}

struct Cursor {
  int* at;
  size_t index;
};

[[gnu::noinline]] void open_cursor(Cursor& c, size_t index) {
  c.at = g_table.data;  // COPIES the pointer into the cursor
  c.index = index;
}

[[gnu::noinline]] int read_cursor(const Cursor& c) {
  return c.at[c.index];  // FAULTS
}

[[gnu::noinline]] void reader(int* out) {
  Cursor c{};
  open_cursor(c, 3);
  *out = read_cursor(c);
}

}  // namespace

int main() {
  std::thread j(janitor);
  j.join();
  int value = 0;
  std::thread r(reader, &value);
  r.join();
  std::printf("read %d\n", value);
  return 0;
}

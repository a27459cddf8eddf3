// Variables of the kinds gdb prints, for `print`, `info locals` and
// `info args` in backstep's debugger compared with gdb's at the same
// position: built at -O0 and at -O2 (where arguments live in registers,
// locals in location lists and `scaled` is inlined into main).
#include <cstdio>

enum Color { kRed, kGreen, kBlue };

struct Point {
  int x;
  int y;
};

struct Node {
  int value;
  Node* next;
  Point where;
  char name[8];
  Color color;
  double weight;
  bool visited;
};

int g_counter = 7;
int g_values[5] = {10, 20, 30, 40, 50};
int g_zeros[16];
const char* g_greeting = "hello";
Node g_nodes[2];

__attribute__((noinline)) int visit(Node* node, int depth) {
  int sum = node->value + depth;
  Point corner = {node->where.x * 2, node->where.y * 2};
  unsigned char flags = 0x41;
  int local_arr[4] = {1, 2, 3, 4};
  asm volatile("" : : "r"(&corner), "r"(local_arr) : "memory");
  g_counter += sum + corner.x + local_arr[depth % 4] + flags;  // VISIT_LINE
  return g_counter + node->next->value;
}

static inline int scaled(int amount, int factor) {
  int product = amount * factor;
  g_counter += product;  // SCALED_LINE
  return product + g_values[factor % 5];
}

int main(int argc, char**) {
  g_nodes[0] = {1, &g_nodes[1], {3, 4}, "first", kGreen, 2.5, true};
  g_nodes[1] = {2, nullptr, {5, 6}, "second", kBlue, 0.1, false};
  Node* head = &g_nodes[0];
  int total = visit(head, argc);
  total += scaled(total, argc + 2);
  std::printf("%d %s %d\n", total, g_greeting, g_zeros[3]);
  return 0;
}

// DWARF location expressions (DWARF 5, section 2.5-2.6) evaluated against a
// frame's registers and memory: where a variable is, or what it is when the
// compiler kept only its value.
#include <dwarf.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "symbols/dwarf_value.h"

namespace backstep::symbols::dwarf {
namespace {

// Where one piece of a location is (DW_OP_piece splits a value into several).
struct Place {
  enum class Kind { kAddress, kRegister, kValue, kImplicit, kNone } kind = Kind::kNone;
  uint64_t number = 0;  // the address, the register's value or the stack value
  int reg = -1;
  std::vector<uint8_t> bytes;  // kImplicit
};

// Why evaluation stopped short: the value is not available in this frame.
struct Unavailable {};

class Evaluator {
 public:
  Evaluator(Dwarf_Attribute* attr, const Machine& machine) : attr_(attr), m_(machine) {}

  // Evaluates the expression; its pieces, or one piece of size 0 (the
  // whole value) when it has no DW_OP_piece.
  std::vector<std::pair<Place, uint64_t>> run(const Dwarf_Op* ops, size_t n) {
    std::vector<std::pair<Place, uint64_t>> pieces;
    Place current;
    for (size_t i = 0; i < n; ++i) {
      const Dwarf_Op& op = ops[i];
      const uint8_t a = op.atom;
      if (a >= DW_OP_lit0 && a <= DW_OP_lit31) {
        push(a - DW_OP_lit0);
      } else if (a >= DW_OP_breg0 && a <= DW_OP_breg31) {
        push(reg(a - DW_OP_breg0) + op.number);
      } else if (a >= DW_OP_reg0 && a <= DW_OP_reg31) {
        current = register_place(a - DW_OP_reg0);
      } else {
        step(op, current, pieces);
      }
    }
    if (pieces.empty()) pieces.emplace_back(finish(current), 0);
    return pieces;
  }

  // The top of the stack (for the CFA's and frame base's expressions).
  uint64_t top() { return pop(); }

 private:
  void step(const Dwarf_Op& op, Place& current, std::vector<std::pair<Place, uint64_t>>& pieces) {
    switch (op.atom) {
      case DW_OP_addr:
        push(op.number + m_.bias);
        break;
      case DW_OP_const1u:
      case DW_OP_const2u:
      case DW_OP_const4u:
      case DW_OP_const8u:
      case DW_OP_const1s:
      case DW_OP_const2s:
      case DW_OP_const4s:
      case DW_OP_const8s:
      case DW_OP_constu:
      case DW_OP_consts:
        push(op.number);
        break;
      case DW_OP_dup:
        push(peek(0));
        break;
      case DW_OP_drop:
        pop();
        break;
      case DW_OP_over:
        push(peek(1));
        break;
      case DW_OP_pick:
        push(peek(op.number));
        break;
      case DW_OP_swap: {
        uint64_t a = pop(), b = pop();
        push(a);
        push(b);
        break;
      }
      case DW_OP_rot: {
        uint64_t a = pop(), b = pop(), c = pop();
        push(a);
        push(c);
        push(b);
        break;
      }
      case DW_OP_plus_uconst:
        push(pop() + op.number);
        break;
      case DW_OP_neg:
        push(-pop());
        break;
      case DW_OP_not:
        push(~pop());
        break;
      case DW_OP_abs: {
        auto v = static_cast<int64_t>(pop());
        push(static_cast<uint64_t>(v < 0 ? -v : v));
        break;
      }
      case DW_OP_plus:
      case DW_OP_minus:
      case DW_OP_mul:
      case DW_OP_and:
      case DW_OP_or:
      case DW_OP_xor:
      case DW_OP_shl:
      case DW_OP_shr:
      case DW_OP_shra:
      case DW_OP_div:
      case DW_OP_mod:
        binary(op.atom);
        break;
      case DW_OP_deref:
        push(load(pop(), 8));
        break;
      case DW_OP_deref_size:
        push(load(pop(), op.number));
        break;
      case DW_OP_bregx:
        push(reg(static_cast<int>(op.number)) + op.number2);
        break;
      case DW_OP_regx:
        current = register_place(static_cast<int>(op.number));
        break;
      case DW_OP_fbreg:
        if (!m_.frame_base) throw Unavailable{};
        push(*m_.frame_base + op.number);
        break;
      case DW_OP_call_frame_cfa:
        if (!m_.cfa) throw Unavailable{};
        push(*m_.cfa);
        break;
      case DW_OP_stack_value:
        current = Place{Place::Kind::kValue, pop(), -1, {}};
        break;
      case DW_OP_implicit_value: {
        Dwarf_Block block;
        if (attr_ == nullptr || dwarf_getlocation_implicit_value(attr_, &op, &block) != 0) {
          throw Unavailable{};
        }
        current = Place{Place::Kind::kImplicit, 0, -1,
                        std::vector<uint8_t>(block.data, block.data + block.length)};
        break;
      }
      case DW_OP_piece:
        // A piece with no location of its own is one the compiler dropped.
        pieces.emplace_back(
            stack_.empty() && current.kind == Place::Kind::kNone ? Place{} : finish(current),
            op.number);
        current = Place{};
        stack_.clear();
        break;
      case DW_OP_nop:
        break;
      default:
        // DW_OP_entry_value (the value the caller passed, found only through
        // call-site DWARF), implicit pointers, typed stack ops, TLS: not
        // read here, so the value is shown as unavailable.
        throw Unavailable{};
    }
  }

  Place register_place(int r) {
    // Registers beyond rip (the SSE and x87 ones) are not in FrameRegisters.
    if (r < 0 || r >= static_cast<int>(kDwarfRegisterCount) || !(*m_.registers)[r]) {
      throw Unavailable{};
    }
    return Place{Place::Kind::kRegister, *(*m_.registers)[r], r, {}};
  }

  // A location without DW_OP_reg/stack_value/implicit_value is the address
  // on top of the stack.
  Place finish(const Place& current) {
    if (current.kind != Place::Kind::kNone) return current;
    return Place{Place::Kind::kAddress, pop(), -1, {}};
  }

  uint64_t reg(int r) {
    if (r < 0 || r >= static_cast<int>(kDwarfRegisterCount) || !(*m_.registers)[r]) {
      throw Unavailable{};
    }
    return *(*m_.registers)[r];
  }

  uint64_t load(uint64_t addr, uint64_t size) {
    uint64_t v = 0;
    if (size > 8 || !(*m_.read_memory)(addr, &v, size)) throw Unavailable{};
    return v;
  }

  void binary(uint8_t atom) {
    const uint64_t b = pop();
    const uint64_t a = pop();
    switch (atom) {
      case DW_OP_plus:
        return push(a + b);
      case DW_OP_minus:
        return push(a - b);
      case DW_OP_mul:
        return push(a * b);
      case DW_OP_and:
        return push(a & b);
      case DW_OP_or:
        return push(a | b);
      case DW_OP_xor:
        return push(a ^ b);
      case DW_OP_shl:
        return push(b >= 64 ? 0 : a << b);
      case DW_OP_shr:
        return push(b >= 64 ? 0 : a >> b);
      case DW_OP_shra:
        return push(static_cast<uint64_t>(static_cast<int64_t>(a) >> (b >= 64 ? 63 : b)));
      case DW_OP_div:
        if (b == 0) throw Unavailable{};
        return push(static_cast<uint64_t>(static_cast<int64_t>(a) / static_cast<int64_t>(b)));
      default:  // DW_OP_mod
        if (b == 0) throw Unavailable{};
        return push(a % b);
    }
  }

  void push(uint64_t v) { stack_.push_back(v); }
  uint64_t pop() {
    if (stack_.empty()) throw Unavailable{};
    uint64_t v = stack_.back();
    stack_.pop_back();
    return v;
  }
  uint64_t peek(uint64_t depth) {
    if (depth >= stack_.size()) throw Unavailable{};
    return stack_[stack_.size() - 1 - depth];
  }

  Dwarf_Attribute* attr_;
  const Machine& m_;
  std::vector<uint64_t> stack_;
};

struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};

// The bytes a piece holds, little-endian, `size` of them.
std::vector<uint8_t> bytes_of(uint64_t number, uint64_t size) {
  std::vector<uint8_t> out(size, 0);
  std::memcpy(out.data(), &number, std::min<uint64_t>(size, sizeof number));
  return out;
}

}  // namespace

Value constant_value(Dwarf_Die* var, const Type& type) {
  Dwarf_Attribute attr;
  Value v;
  v.type = type;
  if (dwarf_attr_integrate(var, DW_AT_const_value, &attr) == nullptr) return v;
  Dwarf_Block block;
  Dwarf_Sword sdata = 0;
  if (dwarf_formblock(&attr, &block) == 0) {
    v.bytes.assign(block.data, block.data + block.length);
  } else if (dwarf_formsdata(&attr, &sdata) == 0) {
    v.bytes = bytes_of(static_cast<uint64_t>(sdata), size_of(type));
  } else {
    return v;
  }
  v.kind = Value::Kind::kBytes;
  v.known.assign(v.bytes.size(), true);
  return v;
}

Value variable_value(Dwarf_Die* var, uint64_t pc, const Machine& machine) {
  Value out;
  out.type = type_of_die(var);
  Dwarf_Attribute attr;
  if (dwarf_attr(var, DW_AT_location, &attr) == nullptr) return constant_value(var, out.type);
  Dwarf_Op* expr = nullptr;
  size_t len = 0;
  if (dwarf_getlocation_addr(&attr, pc - machine.bias, &expr, &len, 1) <= 0 || len == 0) {
    return out;  // no location at this pc: optimized out here
  }
  const uint64_t size = size_of(out.type);
  std::vector<std::pair<Place, uint64_t>> pieces;
  try {
    pieces = Evaluator(&attr, machine).run(expr, len);
  } catch (const Unavailable&) {
    return out;
  }
  if (pieces.size() == 1 && pieces[0].second == 0) {
    const Place& p = pieces[0].first;
    if (p.kind == Place::Kind::kAddress) {
      out.kind = Value::Kind::kMemory;
      out.address = p.number;
      return out;
    }
    pieces[0].second = size;
    if (p.kind == Place::Kind::kRegister) out.in_register = p.reg;
  }
  out.kind = Value::Kind::kBytes;
  for (const auto& [place, piece_size] : pieces) {
    std::vector<uint8_t> bytes;
    bool known = true;
    switch (place.kind) {
      case Place::Kind::kAddress:
        bytes.resize(piece_size);
        known = (*machine.read_memory)(place.number, bytes.data(), piece_size);
        break;
      case Place::Kind::kRegister:
      case Place::Kind::kValue:
        bytes = bytes_of(place.number, piece_size);
        break;
      case Place::Kind::kImplicit:
        bytes = place.bytes;
        bytes.resize(piece_size, 0);
        break;
      case Place::Kind::kNone:
        bytes.resize(piece_size);
        known = false;
        break;
    }
    out.bytes.insert(out.bytes.end(), bytes.begin(), bytes.end());
    out.known.insert(out.known.end(), bytes.size(), known);
  }
  return out;
}

std::optional<uint64_t> frame_cfa(Dwfl_Module* mod, uint64_t pc, const FrameRegisters& registers,
                                  const ReadMemory& read_memory) {
  for (bool eh : {true, false}) {
    Dwarf_Addr bias = 0;
    Dwarf_CFI* cfi = eh ? dwfl_module_eh_cfi(mod, &bias) : dwfl_module_dwarf_cfi(mod, &bias);
    if (cfi == nullptr) continue;
    Dwarf_Frame* raw = nullptr;
    if (dwarf_cfi_addrframe(cfi, pc - bias, &raw) != 0) continue;
    std::unique_ptr<Dwarf_Frame, FreeDeleter> frame(raw);
    Dwarf_Op* ops = nullptr;
    size_t nops = 0;
    if (dwarf_frame_cfa(frame.get(), &ops, &nops) != 0 || nops == 0) continue;
    Machine m;
    m.registers = &registers;
    m.read_memory = &read_memory;
    try {
      Evaluator ev(nullptr, m);
      auto pieces = ev.run(ops, nops);
      if (pieces.size() == 1 && pieces[0].first.kind == Place::Kind::kAddress) {
        return pieces[0].first.number;
      }
    } catch (const Unavailable&) {
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> frame_base(Dwarf_Die* subprogram, uint64_t pc, const Machine& machine) {
  Dwarf_Attribute attr;
  if (dwarf_attr(subprogram, DW_AT_frame_base, &attr) == nullptr) return std::nullopt;
  Dwarf_Op* expr = nullptr;
  size_t len = 0;
  if (dwarf_getlocation_addr(&attr, pc - machine.bias, &expr, &len, 1) <= 0 || len == 0) {
    return std::nullopt;
  }
  try {
    auto pieces = Evaluator(&attr, machine).run(expr, len);
    if (pieces.size() != 1) return std::nullopt;
    // DW_OP_call_frame_cfa leaves the CFA as an "address"; an older
    // DW_OP_reg6 means "the value of rbp".
    const Place& p = pieces[0].first;
    if (p.kind == Place::Kind::kAddress || p.kind == Place::Kind::kRegister) return p.number;
  } catch (const Unavailable&) {
  }
  return std::nullopt;
}

}  // namespace backstep::symbols::dwarf

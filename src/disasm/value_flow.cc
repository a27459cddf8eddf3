#include "disasm/value_flow.h"

#include <capstone/capstone.h>
#include <fmt/core.h>

#include <memory>
#include <string_view>

#include "base/errors.h"
#include "disasm/x86_registers.h"

namespace backstep {
namespace {

struct InsnDeleter {
  size_t count = 0;
  void operator()(cs_insn* insn) const { cs_free(insn, count); }
};
using InsnPtr = std::unique_ptr<cs_insn, InsnDeleter>;

InsnPtr decode_one(size_t handle, std::span<const uint8_t> code, uint64_t pc) {
  cs_insn* insn = nullptr;
  size_t n = cs_disasm(handle, code.data(), code.size(), pc, 1, &insn);
  return InsnPtr(n ? insn : nullptr, InsnDeleter{n});
}

// The mnemonic without a rep prefix: "movsb" for "rep movsb".
std::string_view mnemonic(const cs_insn& insn) {
  std::string_view m = insn.mnemonic;
  for (std::string_view prefix : {"rep ", "repe ", "repne ", "lock "}) {
    if (m.starts_with(prefix)) m.remove_prefix(prefix.size());
  }
  return m;
}

// Whether the instruction copies its source operand to its destination:
// mov and its extending, vector and conditional forms (movbe swaps bytes,
// and string moves are handled by address).
bool is_copy(std::string_view m) {
  return (m.starts_with("mov") || m.starts_with("vmov")) && m != "movbe";
}

// Whether a cmovCC / setCC-style condition holds for these flags.
bool condition_holds(std::string_view cc, uint64_t eflags) {
  const bool cf = eflags & 0x1, pf = eflags & 0x4, zf = eflags & 0x40, sf = eflags & 0x80,
             of = eflags & 0x800;
  if (cc == "a" || cc == "nbe") return !cf && !zf;
  if (cc == "ae" || cc == "nb" || cc == "nc") return !cf;
  if (cc == "b" || cc == "nae" || cc == "c") return cf;
  if (cc == "be" || cc == "na") return cf || zf;
  if (cc == "e" || cc == "z") return zf;
  if (cc == "ne" || cc == "nz") return !zf;
  if (cc == "g" || cc == "nle") return !zf && sf == of;
  if (cc == "ge" || cc == "nl") return sf == of;
  if (cc == "l" || cc == "nge") return sf != of;
  if (cc == "le" || cc == "ng") return zf || sf != of;
  if (cc == "o") return of;
  if (cc == "no") return !of;
  if (cc == "s") return sf;
  if (cc == "ns") return !sf;
  if (cc == "p" || cc == "pe") return pf;
  if (cc == "np" || cc == "po") return !pf;
  return true;
}

bool operand_address(const cs_x86_op& op, const user_regs_struct& regs, uint64_t next_pc,
                     uint64_t* out) {
  return x86::memory_address(op.mem.base, op.mem.index, op.mem.scale, op.mem.disp, op.mem.segment,
                             regs, next_pc, out);
}

// The value an operand gives, as a source: memory, a register or a constant.
ValueSource from_operand(const cs_x86_op& op, const user_regs_struct& regs, uint64_t next_pc,
                         uint32_t offset) {
  ValueSource s;
  switch (op.type) {
    case X86_OP_REG:
      s.kind = ValueSource::Kind::kRegister;
      s.reg = x86::register_family(op.reg);
      s.offset = offset;
      if (!s.reg) s.kind = ValueSource::Kind::kComputed;
      break;
    case X86_OP_IMM:
      s.kind = ValueSource::Kind::kConstant;
      s.constant = static_cast<uint64_t>(op.imm);
      break;
    case X86_OP_MEM: {
      uint64_t addr = 0;
      if (!operand_address(op, regs, next_pc, &addr)) break;
      s.kind = ValueSource::Kind::kMemory;
      s.memory = {addr + offset, op.size > offset ? op.size - offset : 1, true, false};
      break;
    }
    default:
      break;
  }
  return s;
}

ValueSource same_register(unsigned family, std::string note) {
  ValueSource s;
  s.kind = ValueSource::Kind::kRegister;
  s.reg = family;
  s.note = std::move(note);
  return s;
}

}  // namespace

ValueFlowDecoder::ValueFlowDecoder() {
  csh h = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) throw Error("cannot start Capstone");
  cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
  handle_ = h;
}

ValueFlowDecoder::~ValueFlowDecoder() {
  csh h = handle_;
  cs_close(&h);
}

std::vector<unsigned> ValueFlowDecoder::written_registers(std::span<const uint8_t> code,
                                                          const user_regs_struct& regs) const {
  std::vector<unsigned> out;
  InsnPtr insn = decode_one(handle_, code, regs.rip);
  if (!insn) return out;
  cs_regs read{}, written{};
  uint8_t nread = 0, nwritten = 0;
  if (cs_regs_access(handle_, insn.get(), read, &nread, written, &nwritten) != CS_ERR_OK) {
    return out;
  }
  for (uint8_t i = 0; i < nwritten; ++i) {
    unsigned f = x86::register_family(written[i]);
    if (f && f != X86_REG_RSP) out.push_back(f);
  }
  if (mnemonic(*insn) == "syscall") {
    for (unsigned f : {X86_REG_RAX, X86_REG_RCX, X86_REG_R11}) out.push_back(f);
  }
  return out;
}

ValueSource ValueFlowDecoder::register_source(std::span<const uint8_t> code,
                                              const user_regs_struct& regs, unsigned family,
                                              const ReadValue* pointer) const {
  ValueSource computed;
  InsnPtr insn = decode_one(handle_, code, regs.rip);
  if (!insn) return computed;
  const cs_x86& d = insn->detail->x86;
  const uint64_t next_pc = regs.rip + insn->size;
  const std::string_view m = mnemonic(*insn);
  auto dest_is_ours = [&] {
    return d.op_count >= 1 && d.operands[0].type == X86_OP_REG &&
           x86::register_family(d.operands[0].reg) == family;
  };
  if (m == "syscall") {
    if (family == X86_REG_RAX) computed.kind = ValueSource::Kind::kSyscall;
    return computed;
  }
  if (m == "pop" && dest_is_ours()) {
    computed.kind = ValueSource::Kind::kMemory;
    computed.memory = {regs.rsp, 8, true, false};
    return computed;
  }
  if (m.starts_with("cmov") && dest_is_ours() && d.op_count == 2) {
    if (!condition_holds(m.substr(4), regs.eflags)) return same_register(family, "");
    return from_operand(d.operands[1], regs, next_pc, 0);
  }
  if (is_copy(m) && dest_is_ours() && d.op_count == 2) {
    return from_operand(d.operands[1], regs, next_pc, 0);
  }
  if (m == "xchg" && d.op_count == 2) {
    for (int i = 0; i < 2; ++i) {
      if (d.operands[i].type == X86_OP_REG && x86::register_family(d.operands[i].reg) == family) {
        return from_operand(d.operands[1 - i], regs, next_pc, 0);
      }
    }
  }
  // A zeroing idiom: xor eax, eax / sub eax, eax.
  if ((m == "xor" || m == "sub" || m == "pxor" || m == "vpxor" || m == "xorps") && dest_is_ours() &&
      d.operands[d.op_count - 1].type == X86_OP_REG &&
      x86::register_family(d.operands[d.op_count - 1].reg) == family &&
      (d.op_count == 2 ||
       (d.operands[1].type == X86_OP_REG && x86::register_family(d.operands[1].reg) == family))) {
    computed.kind = ValueSource::Kind::kConstant;
    return computed;
  }
  // Pointer arithmetic keeps following the pointer: lea from a base plus a
  // constant (an index makes it an address computed from two values: the
  // base is still the pointer), add or sub of a constant.
  if (m == "lea" && dest_is_ours() && d.operands[1].type == X86_OP_MEM) {
    const x86_op_mem& mem = d.operands[1].mem;
    if (mem.base == X86_REG_RIP) {
      computed.kind = ValueSource::Kind::kConstant;
      computed.constant = next_pc + static_cast<uint64_t>(mem.disp);
      return computed;
    }
    unsigned base = x86::register_family(mem.base);
    if (!base) return computed;
    std::string note;
    if (mem.index != X86_REG_INVALID) {
      note =
          fmt::format("plus {} * {}", x86::family_name(x86::register_family(mem.index)), mem.scale);
    }
    if (mem.disp) {
      note += fmt::format("{}{} {:#x}", note.empty() ? "" : " ", mem.disp < 0 ? "minus" : "plus",
                          mem.disp < 0 ? -mem.disp : mem.disp);
    }
    return same_register(base, note);
  }
  if ((m == "add" || m == "sub") && dest_is_ours() && d.operands[1].type == X86_OP_IMM) {
    int64_t imm = d.operands[1].imm;
    return same_register(family, fmt::format("{} {:#x}", m == "add" ? "plus" : "minus",
                                             static_cast<uint64_t>(imm < 0 ? -imm : imm)));
  }
  if (pointer && m == "add" && dest_is_ours() && d.op_count == 2 &&
      d.operands[1].type != X86_OP_IMM) {
    const cs_x86_op& src = d.operands[1];
    uint64_t dst_value = 0;
    x86::register_value(family, regs, next_pc, &dst_value);
    std::optional<uint64_t> src_value;
    uint64_t v = 0;
    if (src.type == X86_OP_REG && x86::register_value(src.reg, regs, next_pc, &v)) src_value = v;
    if (src.type == X86_OP_MEM && operand_address(src, regs, next_pc, &v)) {
      src_value = (*pointer)(v, src.size ? src.size : 8);
    }
    if (!src_value) return computed;
    auto address_like = [](uint64_t x) { return x >= 0x10000; };
    bool follow_src = address_like(*src_value) != address_like(dst_value) ? address_like(*src_value)
                      : (*src_value == 0) != (dst_value == 0)             ? *src_value == 0
                                                                          : src.type == X86_OP_MEM;
    if (!follow_src) {
      return same_register(family, fmt::format("plus {:#x}", *src_value));
    }
    ValueSource s = from_operand(src, regs, next_pc, 0);
    s.note = fmt::format("plus {:#x}", dst_value);
    return s;
  }
  return computed;
}

ValueSource ValueFlowDecoder::store_source(std::span<const uint8_t> code,
                                           const user_regs_struct& regs, uint64_t addr) const {
  ValueSource computed;
  InsnPtr insn = decode_one(handle_, code, regs.rip);
  if (!insn) return computed;
  const cs_x86& d = insn->detail->x86;
  const uint64_t next_pc = regs.rip + insn->size;
  const std::string_view m = mnemonic(*insn);
  if (m == "push" && d.op_count == 1) {
    auto offset = static_cast<uint32_t>(addr >= regs.rsp - 8 ? addr - (regs.rsp - 8) : 0);
    return from_operand(d.operands[0], regs, next_pc, offset);
  }
  if (m == "call") {
    computed.kind = ValueSource::Kind::kConstant;  // the return address
    computed.constant = next_pc;
    return computed;
  }
  // String moves and stores: one element per step, from [rsi] / rax.
  if (m.starts_with("movs") && d.op_count == 2 && d.operands[0].type == X86_OP_MEM &&
      d.operands[1].type == X86_OP_MEM) {
    computed.kind = ValueSource::Kind::kMemory;
    uint32_t size = d.operands[0].size ? d.operands[0].size : 1;
    uint64_t offset = addr >= regs.rdi ? addr - regs.rdi : 0;
    computed.memory = {regs.rsi + offset,
                       static_cast<uint32_t>(size - std::min<uint64_t>(offset, size - 1)), true,
                       false};
    return computed;
  }
  if (m.starts_with("stos")) return same_register(X86_REG_RAX, "");
  // The stored operand: the destination is a memory operand written, the
  // source the other operand (mov, movups, xchg with memory, cmpxchg's new value).
  if ((is_copy(m) || m == "xchg" || m == "cmpxchg") && d.op_count == 2 &&
      d.operands[0].type == X86_OP_MEM) {
    uint64_t at = 0;
    if (!operand_address(d.operands[0], regs, next_pc, &at)) return computed;
    auto offset = static_cast<uint32_t>(addr > at ? addr - at : 0);
    return from_operand(d.operands[1], regs, next_pc, offset);
  }
  return computed;
}

std::vector<ValueSource> ValueFlowDecoder::operands(std::span<const uint8_t> code,
                                                    const user_regs_struct& regs) const {
  std::vector<ValueSource> out;
  InsnPtr insn = decode_one(handle_, code, regs.rip);
  if (!insn) return out;
  const cs_x86& d = insn->detail->x86;
  for (uint8_t i = 0; i < d.op_count; ++i) {
    out.push_back(from_operand(d.operands[i], regs, regs.rip + insn->size, 0));
  }
  return out;
}

std::optional<ValueFlowDecoder::AddressRegister> ValueFlowDecoder::address_register(
    std::span<const uint8_t> code, const user_regs_struct& regs) const {
  InsnPtr insn = decode_one(handle_, code, regs.rip);
  if (!insn) return std::nullopt;
  const cs_x86& d = insn->detail->x86;
  const uint64_t next_pc = regs.rip + insn->size;
  if (insn->id == X86_INS_LEA || insn->id == X86_INS_NOP) return std::nullopt;
  for (uint8_t i = 0; i < d.op_count; ++i) {
    const cs_x86_op& op = d.operands[i];
    if (op.type != X86_OP_MEM) continue;
    unsigned reg =
        op.mem.base != X86_REG_INVALID && op.mem.base != X86_REG_RIP ? op.mem.base : op.mem.index;
    unsigned family = x86::register_family(reg);
    uint64_t addr = 0;
    if (!family || !operand_address(op, regs, next_pc, &addr)) continue;
    MemoryAccess a{addr, op.size ? op.size : 8u, (op.access & CS_AC_READ) != 0,
                   (op.access & CS_AC_WRITE) != 0};
    return AddressRegister{family, a};
  }
  return std::nullopt;
}

}  // namespace backstep

#include "ptrace/conditional_breakpoint.h"

#include <capstone/capstone.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstring>

#include "base/errors.h"
#include "ptrace/interrupt_signature.h"
#include "ptrace/proc.h"

namespace backstep {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kCodeBytes = 4 * kPage;  // code first, then one page of data
constexpr uint64_t kStubBytes = kCodeBytes + kPage;
constexpr uint64_t kReach = 1ull << 30;  // stays well inside a rel32's +-2 GiB
constexpr size_t kMaxPatch = 32;

struct Capstone {
  csh h = 0;
  Capstone() {
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) throw Error("cannot start Capstone");
    cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
  }
  ~Capstone() { cs_close(&h); }
};

bool is_control_flow(csh h, const cs_insn& insn) {
  for (int g :
       {CS_GRP_JUMP, CS_GRP_CALL, CS_GRP_RET, CS_GRP_INT, CS_GRP_IRET, CS_GRP_BRANCH_RELATIVE}) {
    if (cs_insn_group(h, &insn, static_cast<uint8_t>(g))) return true;
  }
  switch (insn.id) {
    case X86_INS_SYSCALL:
    case X86_INS_SYSENTER:
    case X86_INS_INT3:
    case X86_INS_INT:
    case X86_INS_UD2:
    case X86_INS_HLT:
    case X86_INS_PUSHF:
    case X86_INS_PUSHFQ:
    case X86_INS_POPF:
    case X86_INS_POPFQ:
    case X86_INS_XBEGIN:
      return true;
    default:
      return false;
  }
}

// An instruction the jmp to the stub overwrites, moved into the stub.
struct Displaced {
  uint64_t addr;
  std::vector<uint8_t> bytes;
  int disp_offset = -1;  // of a rip-relative disp32 to fix, or -1
};

// The instructions at `pc` (`code`, `readable` bytes of it) that a 5-byte
// jmp would overwrite: whole ones, straight-line, none a branch or trap.
// Empty, with `why` set, when there are no such.
std::vector<Displaced> displaceable(const Capstone& cs, const uint8_t* code, size_t readable,
                                    uint64_t pc, std::string& why) {
  std::vector<Displaced> displaced;
  size_t length = 0;
  while (length < 5) {
    cs_insn* insn = nullptr;
    size_t n = cs_disasm(cs.h, code + length, readable - length, pc + length, 1, &insn);
    if (n == 0) {
      why = "undecodable code";
      return {};
    }
    Displaced d{insn[0].address, std::vector<uint8_t>(insn[0].bytes, insn[0].bytes + insn[0].size)};
    bool control = is_control_flow(cs.h, insn[0]);
    const cs_x86& x86 = insn[0].detail->x86;
    bool rip_relative = false;
    for (uint8_t i = 0; i < x86.op_count; ++i) {
      if (x86.operands[i].type == X86_OP_MEM && x86.operands[i].mem.base == X86_REG_RIP) {
        rip_relative = true;
      }
    }
    if (rip_relative) {
      if (x86.encoding.disp_size != 4) control = true;
      d.disp_offset = x86.encoding.disp_offset;
    }
    cs_free(insn, n);
    if (control) {
      why = fmt::format("a branch or trap at {:#x}", d.addr);
      return {};
    }
    length += d.bytes.size();
    displaced.push_back(std::move(d));
  }
  if (length > kMaxPatch) {
    why = "instructions too long";
    return {};
  }
  return displaced;
}

// Machine code, appended.
class Code {
 public:
  explicit Code(uint64_t base) : base_(base) {}
  uint64_t here() const { return base_ + bytes_.size(); }
  void byte(uint8_t b) { bytes_.push_back(b); }
  void bytes(std::initializer_list<uint8_t> bs) { bytes_.insert(bytes_.end(), bs); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  // A rip-relative disp32 to `target`, for an instruction that ends `tail`
  // bytes after the displacement.
  void rel32(uint64_t target, size_t tail = 0) {
    u32(static_cast<uint32_t>(target - (here() + 4 + tail)));
  }
  // A jne rel32 whose target is not known yet: patched by `bind`.
  void jne_to_miss() {
    bytes({0x0f, 0x85});
    fixups_.push_back(bytes_.size());
    u32(0);
  }
  void bind_misses(uint64_t target) {
    for (size_t at : fixups_) {
      uint32_t rel = static_cast<uint32_t>(target - (base_ + at + 4));
      std::memcpy(&bytes_[at], &rel, 4);
    }
  }
  std::vector<uint8_t>& data() { return bytes_; }

 private:
  uint64_t base_;
  std::vector<uint8_t> bytes_;
  std::vector<size_t> fixups_;
};

// Where the stub goes: a free range within reach of `pc`, nearest first.
std::optional<uint64_t> stub_address(pid_t pid, uint64_t pc) {
  std::vector<ProcMapping> maps = read_proc_maps(pid);
  std::optional<uint64_t> best;
  auto consider = [&](uint64_t addr) {
    if (addr < 0x10000 || addr + kStubBytes > 0x7ffffffff000ull) return;
    uint64_t distance = addr > pc ? addr - pc : pc - addr;
    if (distance > kReach) return;
    if (!best || distance < (*best > pc ? *best - pc : pc - *best)) best = addr;
  };
  for (size_t i = 0; i + 1 < maps.size(); ++i) {
    uint64_t gap_begin = maps[i].end;
    uint64_t gap_end = maps[i + 1].start;
    // Leave a page either side: guard pages stay guards.
    if (gap_end - gap_begin < kStubBytes + 2 * kPage) continue;
    consider(gap_begin + kPage);
    consider(gap_end - kPage - kStubBytes);
  }
  return best;
}

}  // namespace

bool ConditionalBreakpoint::patchable(const AddressSpace& mem, uint64_t pc) {
  uint8_t code[kMaxPatch + 16] = {};
  size_t readable = sizeof code;
  while (readable > 0 && !mem.read(pc, code, readable)) --readable;
  thread_local const Capstone cs;  // the recorder asks at every interrupt
  std::string why;
  return !displaceable(cs, code, readable, pc, why).empty();
}

std::unique_ptr<ConditionalBreakpoint> ConditionalBreakpoint::install(
    const Task& task, const AddressSpace& mem, HeldAt at, const Target& target,
    const std::vector<uint64_t>& avoid, std::string* why) {
  auto fail = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return nullptr;
  };
  const uint64_t pc = target.pc;
  uint8_t code[kMaxPatch + 16] = {};
  size_t readable = sizeof code;
  while (readable > 0 && !mem.read(pc, code, readable)) --readable;
  Capstone cs;
  std::string refused;
  std::vector<Displaced> displaced = displaceable(cs, code, readable, pc, refused);
  if (displaced.empty()) return fail(std::move(refused));
  size_t length = 0;
  for (const Displaced& d : displaced) length += d.bytes.size();
  for (uint64_t a : avoid) {
    if (a >= pc && a < pc + length) return fail(fmt::format("a breakpoint at {:#x}", a));
  }
  Registers now = task.regs();
  if (now.rip > pc && now.rip < pc + length) return fail("the thread stands inside the patch");
  if (displaced.size() > 1) {
    // Instructions after the first are overwritten by the jmp: no branch
    // may land on them. Direct branches nearby are checked (a linear sweep
    // of the surrounding code); an indirect one is not expected into the
    // middle of a loop's straight-line code.
    uint64_t from = pc > 4096 ? pc - 4096 : 0;
    std::vector<uint8_t> around(8192 + kMaxPatch);
    size_t got = around.size();
    while (got > 0 && !mem.read(from, around.data(), got)) {
      if (from < pc) {
        from += kPage;  // unmapped before: start later
        got = std::min<size_t>(got, around.size());
      } else {
        --got;
      }
    }
    const uint8_t* p = around.data();
    size_t left = got;
    uint64_t addr = from;
    cs_insn* insn = cs_malloc(cs.h);
    while (left > 0) {
      if (!cs_disasm_iter(cs.h, &p, &left, &addr, insn)) {
        ++p;
        --left;
        ++addr;
        continue;
      }
      const cs_x86& x86 = insn->detail->x86;
      if (x86.op_count == 1 && x86.operands[0].type == X86_OP_IMM &&
          (cs_insn_group(cs.h, insn, CS_GRP_JUMP) || cs_insn_group(cs.h, insn, CS_GRP_CALL))) {
        auto dest = static_cast<uint64_t>(x86.operands[0].imm);
        if (dest > pc && dest < pc + length) {
          std::string reason = fmt::format("a branch at {:#x} into the patch", insn->address);
          cs_free(insn, 1);
          return fail(std::move(reason));
        }
      }
    }
    cs_free(insn, 1);
  }

  std::optional<uint64_t> where = stub_address(mem.pid(), pc);
  if (!where) return fail("no room for a stub near the code");
  InjectedResult mapped;
  try {
    mapped = inject_syscall(
        task, mem, at, SYS_mmap,
        {*where, kStubBytes, PROT_READ | PROT_WRITE | PROT_EXEC,
         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, static_cast<uint64_t>(-1), 0});
  } catch (const Error& e) {
    return fail(e.what());
  }
  if (static_cast<uint64_t>(mapped.value) != *where) {
    return fail(fmt::format("mmap for the stub gave {:#x}", mapped.value));
  }
  std::unique_ptr<ConditionalBreakpoint> cb(new ConditionalBreakpoint(mem));
  cb->pc_ = pc;
  cb->stub_ = *where;
  cb->stub_len_ = kStubBytes;

  // Data page: the saved rsp, the compared values, the stub's stack.
  const uint64_t data = *where + kCodeBytes;
  std::vector<uint8_t> dbytes(kPage);
  size_t dused = 16;  // [0, 8): saved rsp
  auto constant = [&](const void* v, size_t n) {
    dused = (dused + 7) & ~size_t{7};
    std::memcpy(&dbytes[dused], v, n);
    uint64_t addr = data + dused;
    dused += std::max<size_t>(n, 8);
    return addr;
  };
  const uint64_t saved_rsp = data;
  const uint64_t stack_top = data + kPage;  // grows down; 64 bytes are plenty
  cb->saved_rsp_addr_ = saved_rsp;
  auto give_up = [&](const char* reason) {
    cb->remove(task, at);
    return fail(reason);
  };

  Code c(*where);
  // mov [rip+saved_rsp], rsp ; lea rsp, [rip+stack_top] ; pushfq
  c.bytes({0x48, 0x89, 0x25});
  c.rel32(saved_rsp);
  c.bytes({0x48, 0x8d, 0x25});
  c.rel32(stack_top);
  c.byte(0x9c);
  // Memory first: in a loop whose registers repeat, it is what differs.
  for (const Word& w : target.words) {
    size_t off = 0;
    while (off < w.value.size()) {
      size_t left = w.value.size() - off;
      size_t n = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
      uint64_t k = constant(w.value.data() + off, n);
      c.byte(0x50);  // push rax
      // mov al/ax/eax/rax, [moffs64]
      if (n == 8) c.bytes({0x48, 0xa1});
      if (n == 4) c.byte(0xa1);
      if (n == 2) c.bytes({0x66, 0xa1});
      if (n == 1) c.byte(0xa0);
      c.u64(w.addr + off);
      // cmp al/ax/eax/rax, [rip+k]
      if (n == 8) c.bytes({0x48, 0x3b, 0x05});
      if (n == 4) c.bytes({0x3b, 0x05});
      if (n == 2) c.bytes({0x66, 0x3b, 0x05});
      if (n == 1) c.bytes({0x3a, 0x05});
      c.rel32(k);
      c.byte(0x58);  // pop rax
      c.jne_to_miss();
      off += n;
    }
    if (c.data().size() > kCodeBytes - 256 || dused > kPage - 128) {
      return give_up("signature too large for a stub");
    }
  }
  // The general registers but rsp: cmp reg, [rip+k] ; jne miss.
  const Registers& r = target.regs;
  const std::pair<int, uint64_t> regs[] = {{0, r.rax},  {1, r.rcx},  {2, r.rdx},  {3, r.rbx},
                                           {5, r.rbp},  {6, r.rsi},  {7, r.rdi},  {8, r.r8},
                                           {9, r.r9},   {10, r.r10}, {11, r.r11}, {12, r.r12},
                                           {13, r.r13}, {14, r.r14}, {15, r.r15}};
  for (const auto& [num, value] : regs) {
    uint64_t k = constant(&value, 8);
    c.bytes({static_cast<uint8_t>(0x48 | (num >= 8 ? 0x04 : 0)), 0x3b,
             static_cast<uint8_t>(((num & 7) << 3) | 5)});
    c.rel32(k);
    c.jne_to_miss();
  }
  // rsp: push rax ; mov rax, [rip+saved_rsp] ; cmp rax, [rip+k] ; pop rax ; jne miss
  {
    uint64_t k = constant(&r.rsp, 8);
    c.byte(0x50);
    c.bytes({0x48, 0x8b, 0x05});
    c.rel32(saved_rsp);
    c.bytes({0x48, 0x3b, 0x05});
    c.rel32(k);
    c.byte(0x58);
    c.jne_to_miss();
  }
  // flags: push rax ; mov rax, [rsp+8] ; and rax, ~ignored ; cmp rax, [rip+k] ; pop rax ; jne miss
  {
    uint64_t want = r.eflags & ~kIgnoredFlags;
    uint64_t k = constant(&want, 8);
    c.byte(0x50);
    c.bytes({0x48, 0x8b, 0x44, 0x24, 0x08});
    c.bytes({0x48, 0x25});
    c.u32(static_cast<uint32_t>(~kIgnoredFlags));  // sign-extended
    c.bytes({0x48, 0x3b, 0x05});
    c.rel32(k);
    c.byte(0x58);
    c.jne_to_miss();
  }
  cb->trap_addr_ = c.here();
  c.byte(0xcc);
  // miss: popfq ; mov rsp, [rip+saved_rsp] ; the displaced code ; jmp back
  cb->miss_addr_ = c.here();
  c.bind_misses(c.here());
  c.byte(0x9d);
  c.bytes({0x48, 0x8b, 0x25});
  c.rel32(saved_rsp);
  for (const Displaced& d : displaced) {
    uint64_t new_addr = c.here();
    std::vector<uint8_t> b = d.bytes;
    if (d.disp_offset >= 0) {
      int32_t disp = 0;
      std::memcpy(&disp, &b[static_cast<size_t>(d.disp_offset)], 4);
      int64_t fixed = static_cast<int64_t>(disp) + static_cast<int64_t>(d.addr - new_addr);
      if (fixed != static_cast<int32_t>(fixed)) return give_up("displacement out of reach");
      auto f32 = static_cast<int32_t>(fixed);
      std::memcpy(&b[static_cast<size_t>(d.disp_offset)], &f32, 4);
    }
    c.data().insert(c.data().end(), b.begin(), b.end());
  }
  c.byte(0xe9);
  c.rel32(pc + length);
  if (!mem.write(*where, c.data().data(), c.data().size()) ||
      !mem.write(data, dbytes.data(), dbytes.size())) {
    return give_up("cannot write the stub");
  }
  // Last, the jmp over the displaced bytes (the rest filled with int3:
  // nothing may execute them).
  cb->original_.assign(code, code + length);
  std::vector<uint8_t> jmp(length, 0xcc);
  jmp[0] = 0xe9;
  auto rel = static_cast<uint32_t>(*where - (pc + 5));
  std::memcpy(&jmp[1], &rel, 4);
  if (!mem.write(pc, jmp.data(), jmp.size())) return give_up("cannot patch the code");
  cb->patched_ = true;
  return cb;
}

ConditionalBreakpoint::~ConditionalBreakpoint() {
  if (patched_) mem_.write(pc_, original_.data(), original_.size());
}

Registers ConditionalBreakpoint::program_registers(const Registers& at_trap) const {
  Registers r = at_trap;
  r.rip = pc_;
  uint64_t rsp = 0, flags = 0;
  mem_.read(saved_rsp_addr_, &rsp, 8);
  mem_.read(at_trap.rsp, &flags, 8);  // pushed by the stub's pushfq
  r.rsp = rsp;
  r.eflags = flags;
  return r;
}

Registers ConditionalBreakpoint::miss_registers(const Registers& at_trap) const {
  Registers r = at_trap;
  r.rip = miss_addr_;
  return r;
}

void ConditionalBreakpoint::remove(const Task& task, HeldAt at) {
  if (patched_) {
    mem_.write(pc_, original_.data(), original_.size());
    patched_ = false;
  }
  if (stub_) {
    inject_syscall(task, mem_, at, SYS_munmap, {stub_, stub_len_});
    stub_ = 0;
  }
}

}  // namespace backstep

#include "symbols/unwind.h"

#include <elfutils/libdwfl.h>

#include <algorithm>
#include <array>

#include "symbols/symbolizer_impl.h"

namespace backstep::symbols {
namespace {

// DWARF register numbers of x86-64 (System V psABI, figure 3.36).
constexpr unsigned kDwarfRbp = 6;
constexpr unsigned kDwarfRsp = 7;
constexpr unsigned kDwarfRip = 16;
constexpr unsigned kDwarfRegCount = kDwarfRegisterCount;  // rax..r15 and the return address

std::array<Dwarf_Word, kDwarfRegCount> dwarf_registers(const user_regs_struct& r) {
  return {r.rax, r.rdx, r.rcx, r.rbx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8,
          r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip};
}

// --- Thread callbacks: one thread, whatever Impl::request describes. ---

Symbolizer::Impl& impl_of(void* dwfl_arg) { return *static_cast<Symbolizer::Impl*>(dwfl_arg); }

pid_t next_thread(Dwfl*, void* dwfl_arg, void** thread_argp) {
  const UnwindRequest* req = impl_of(dwfl_arg).request;
  if (req == nullptr || *thread_argp != nullptr) return 0;  // one thread, then no more
  *thread_argp = const_cast<UnwindRequest*>(req);
  return req->tid;
}

bool get_thread(Dwfl*, pid_t tid, void* dwfl_arg, void** thread_argp) {
  const UnwindRequest* req = impl_of(dwfl_arg).request;
  if (req == nullptr || req->tid != tid) return false;
  *thread_argp = const_cast<UnwindRequest*>(req);
  return true;
}

bool memory_read(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result, void* dwfl_arg) {
  const UnwindRequest* req = impl_of(dwfl_arg).request;
  return req != nullptr && (*req->read_memory)(addr, result, sizeof *result);
}

bool set_initial_registers(Dwfl_Thread* thread, void* thread_arg) {
  const auto* req = static_cast<const UnwindRequest*>(thread_arg);
  const auto regs = dwarf_registers(*req->regs);
  return dwfl_thread_state_registers(thread, 0, kDwarfRegCount, regs.data());
}

// libdwfl keeps a pointer to these for the session's lifetime.
const Dwfl_Thread_Callbacks kThreadCallbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
    .detach = nullptr,  // nothing was attached: the caller owns the process
    .thread_detach = nullptr,
};

// A session can be attached to a process once (a second dwfl_attach_state
// fails), so it is attached on the first unwind and the callbacks read the
// current request from the Impl.
bool ensure_attached(Symbolizer::Impl& impl) {
  using Attach = Symbolizer::Impl::Attach;
  if (impl.attach == Attach::kNotYet) {
    // The architecture comes from the executable's Elf; any module would do.
    Elf* elf = nullptr;
    if (impl.executable != nullptr) {
      Dwarf_Addr bias = 0;
      elf = dwfl_module_getelf(impl.executable, &bias);
    }
    // The pid is only a name for the "process"; it must not be 0.
    const bool ok = impl.dwfl && !impl.reported.empty() &&
                    dwfl_attach_state(impl.dwfl.get(), elf, 1, &kThreadCallbacks, &impl);
    impl.attach = ok ? Attach::kAttached : Attach::kFailed;
  }
  return impl.attach == Attach::kAttached;
}

// Sets Impl::request for the duration of a scope, so that no callback can
// see a request whose registers and reader are gone.
class RequestScope {
 public:
  RequestScope(Symbolizer::Impl& impl, const UnwindRequest& req) : impl_(impl) {
    impl_.request = &req;
  }
  ~RequestScope() { impl_.request = nullptr; }
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

 private:
  Symbolizer::Impl& impl_;
};

struct RawFrame {
  uint64_t pc = 0;
  uint64_t sp = 0;
  std::optional<uint64_t> rbp;
  FrameRegisters registers;
};

struct Collect {
  std::vector<RawFrame> frames;
  bool stopped = false;  // on_frame ended the walk on purpose
};

bool seen(const std::vector<RawFrame>& frames, uint64_t pc, uint64_t sp) {
  for (const RawFrame& f : frames) {
    if (f.pc == pc && f.sp == sp) return true;
  }
  return false;
}

int on_frame(Dwfl_Frame* state, void* arg) {
  Collect& collect = *static_cast<Collect*>(arg);
  auto& out = collect.frames;
  Dwarf_Addr pc = 0;
  bool activation = false;
  if (!dwfl_frame_pc(state, &pc, &activation) || pc == 0) {
    collect.stopped = true;
    return DWARF_CB_ABORT;
  }
  RawFrame f;
  f.pc = pc;
  Dwarf_Word value = 0;
  if (dwfl_frame_reg(state, kDwarfRsp, &value) == 0) f.sp = value;
  if (dwfl_frame_reg(state, kDwarfRbp, &value) == 0) f.rbp = value;
  for (unsigned r = 0; r < kDwarfRegCount; ++r) {
    if (dwfl_frame_reg(state, r, &value) == 0) f.registers[r] = value;
  }
  f.registers[kDwarfRip] = pc;
  // A repeated (pc, sp) is a loop, not a deeper frame. pc alone may repeat
  // legitimately, in recursion.
  if (seen(out, f.pc, f.sp)) {
    collect.stopped = true;
    return DWARF_CB_ABORT;
  }
  out.push_back(f);
  if (out.size() < kMaxFrames) return DWARF_CB_OK;
  collect.stopped = true;
  return DWARF_CB_ABORT;
}

bool in_some_module(const Symbolizer& symbols, uint64_t pc) {
  return symbols.modules().empty() || dwfl_addrmodule(symbols.dwfl(), pc) != nullptr;
}

// Follows the rbp chain from `from` (whose rbp must be known), appending.
void walk_frame_pointers(const Symbolizer& symbols, const ReadMemory& read_memory, RawFrame from,
                         std::vector<RawFrame>& out) {
  uint64_t rbp = from.rbp.value_or(0);
  uint64_t sp = from.sp;
  while (out.size() < kMaxFrames) {
    // A frame record lives above the current stack pointer, 8-aligned.
    if (rbp == 0 || rbp % 8 != 0 || rbp < sp) return;
    std::array<uint64_t, 2> record{};  // saved rbp, return address
    if (!read_memory(rbp, record.data(), sizeof record)) return;
    RawFrame f;
    f.pc = record[1];
    f.sp = rbp + 16;  // after `ret` popped the return address
    f.rbp = record[0];
    f.registers[kDwarfRbp] = f.rbp;
    f.registers[kDwarfRsp] = f.sp;
    f.registers[kDwarfRip] = f.pc;
    if (f.pc == 0 || !in_some_module(symbols, f.pc) || seen(out, f.pc, f.sp)) return;
    out.push_back(f);
    if (record[0] <= rbp) return;  // the chain must go up the stack
    rbp = record[0];
    sp = f.sp;
  }
}

std::vector<Frame> located(const Symbolizer& symbols, const std::vector<RawFrame>& raw) {
  std::vector<Frame> out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    Frame f;
    f.pc = raw[i].pc;
    f.cfa_or_sp = raw[i].sp;
    f.registers = raw[i].registers;
    f.where = i == 0 ? symbols.locate(f.pc) : symbols.locate_return_address(f.pc);
    out.push_back(std::move(f));
  }
  return out;
}

RawFrame first_frame(const user_regs_struct& regs) {
  RawFrame f{regs.rip, regs.rsp, regs.rbp, {}};
  const auto all = dwarf_registers(regs);
  std::copy(all.begin(), all.end(), f.registers.begin());
  return f;
}

}  // namespace

std::vector<Frame> unwind(const Symbolizer& symbols, const user_regs_struct& regs,
                          const ReadMemory& read_memory, pid_t tid_for_display) {
  Symbolizer::Impl& impl = SymbolizerAccess::impl(symbols);
  Collect collect;
  bool finished = false;  // the outermost frame reached, or a reason to stop
  if (ensure_attached(impl)) {
    const UnwindRequest req{&regs, &read_memory, tid_for_display > 0 ? tid_for_display : 1};
    RequestScope scope(impl, req);
    const int rc = dwfl_getthread_frames(impl.dwfl.get(), req.tid, on_frame, &collect);
    finished = rc == 0 || collect.stopped;
  }
  if (collect.frames.empty()) collect.frames.push_back(first_frame(regs));
  // CFI ran out before the outermost frame (no CFI for a pc, or a register
  // it needed was unknown): go on by frame pointers from the last frame.
  if (!finished && collect.frames.size() < kMaxFrames && collect.frames.back().rbp) {
    walk_frame_pointers(symbols, read_memory, collect.frames.back(), collect.frames);
  }
  return located(symbols, collect.frames);
}

std::vector<Frame> unwind_frame_pointers(const Symbolizer& symbols, const user_regs_struct& regs,
                                         const ReadMemory& read_memory) {
  std::vector<RawFrame> raw{first_frame(regs)};
  if (regs.rip == 0) return located(symbols, raw);
  walk_frame_pointers(symbols, read_memory, raw.back(), raw);
  return located(symbols, raw);
}

std::vector<Frame> with_inlined_frames(const Symbolizer& symbols,
                                       const std::vector<Frame>& physical) {
  std::vector<Frame> out;
  for (size_t i = 0; i < physical.size(); ++i) {
    for (Location& where : symbols.inline_frames(physical[i].pc, i > 0)) {
      out.push_back(
          Frame{physical[i].pc, physical[i].cfa_or_sp, std::move(where), physical[i].registers});
    }
  }
  return out;
}

}  // namespace backstep::symbols

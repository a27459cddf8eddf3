// The x86-64 registers the debugger names (`$rip`, `info registers rax`),
// by gdb's names, as fields of the ptrace register file.
#pragma once

#include <string_view>

#include "ptrace/task.h"

namespace backstep::cli {

using RegisterField = unsigned long long Registers::*;

// The field of `name` (without '$'; "pc" and "sp" are rip and rsp), or
// nullptr for a name that is none of them.
RegisterField register_field(std::string_view name);

}  // namespace backstep::cli

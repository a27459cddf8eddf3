// Internals of variables.cc: typed values read from a stopped process
// through DWARF, the evaluation of location expressions (dwarf_location.cc)
// and gdb's printing of values and type names (value_format.cc). Not API.
#pragma once

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "symbols/symbolizer.h"
#include "symbols/unwind.h"

namespace backstep::symbols::dwarf {

// A type: a DWARF type DIE, or none (void, or a literal's `long`), with
// `pointers` levels of "pointer to" on top that the expression made (`&x`)
// and DWARF may have no DIE for.
struct Type {
  std::optional<Dwarf_Die> die;  // nullopt: void, or a literal's `long`
  int pointers = 0;
  bool literal = false;  // an integer written in the expression
};

// Where a value is. Memory values can be addressed (`&`) and read lazily;
// the others were composed from registers, stack values and pieces, with a
// mask of which bytes are known (a piece the compiler did not keep is not).
struct Value {
  Type type;
  enum class Kind { kMemory, kBytes, kOptimizedOut } kind = Kind::kOptimizedOut;
  uint64_t address = 0;
  std::vector<uint8_t> bytes;
  std::vector<bool> known;  // parallel to bytes
  // Set when the value is a whole register (DW_OP_regN), to say so in
  // errors ("Address requested for identifier "x" which is in register $rax").
  std::optional<int> in_register;
  std::string identifier;  // the variable's name, when the value is a whole variable
};

// What a location expression can read.
struct Machine {
  const FrameRegisters* registers = nullptr;
  const ReadMemory* read_memory = nullptr;
  Dwarf_Addr bias = 0;          // the module's load bias
  std::optional<uint64_t> cfa;  // DW_OP_call_frame_cfa
  std::optional<uint64_t> frame_base;
};

// The value of the variable `var` (a DW_TAG_variable or
// DW_TAG_formal_parameter) at `pc` (already pc - 1 for a caller's frame,
// module-relative through `machine.bias`).
Value variable_value(Dwarf_Die* var, uint64_t pc, const Machine& machine);

// A variable whose DWARF has its value instead of a location (a constant
// folded away, a static member's initializer: DW_AT_const_value), or
// optimized out.
Value constant_value(Dwarf_Die* var, const Type& type);

// The CFA of the frame at `pc` with `registers`, from the module's CFI.
std::optional<uint64_t> frame_cfa(Dwfl_Module* mod, uint64_t pc, const FrameRegisters& registers,
                                  const ReadMemory& read_memory);

// The value of DW_AT_frame_base of `subprogram` at `pc`.
std::optional<uint64_t> frame_base(Dwarf_Die* subprogram, uint64_t pc, const Machine& machine);

// --- types ---

// `type` without typedefs and cv-qualifiers (the DIE, when it has one).
std::optional<Dwarf_Die> peeled(const Type& type);
// The tag of the peeled type (DW_TAG_pointer_type for added pointers; 0 for none).
int tag_of(const Type& type);
// Its size in bytes; 8 for pointers and literals.
uint64_t size_of(const Type& type);
// The type the DIE's DW_AT_type names (through abstract origins).
Type type_of_die(Dwarf_Die* die);
// What a pointer or array type points at / holds.
Type target_of(const Type& type);
// A struct, class or union tag.
bool is_aggregate(int tag);
// gdb's name of a type: "int", "Point *", "const char *", "int [4]", "int (*)[4]".
std::string type_name(const Type& type);

// --- values ---

// The value's bytes, or nullopt where any is unreadable or unknown.
std::optional<std::vector<uint8_t>> read_bytes(const Value& v, const ReadMemory& read_memory);
// `size` of its bytes from `offset`, whatever its type's size.
std::optional<std::vector<uint8_t>> read_raw(const Value& v, uint64_t offset, uint64_t size,
                                             const ReadMemory& read_memory);
// A part of a value: `size` bytes at `offset`, of type `type`.
Value sub_value(const Value& whole, uint64_t offset, const Type& type, uint64_t size);
// The member `name` of an aggregate value, looked up in its base classes
// and anonymous unions too; nullopt if it has none.
std::optional<Value> member(const Value& v, std::string_view name);
// The value's integer (sign-extended for signed types), or nullopt.
std::optional<int64_t> integer_of(const Value& v, const ReadMemory& read_memory);

// How to print: gdb's /FMT letter (0 for natural), and where names of
// addresses come from (`<main+4>`, `<counter>`).
struct PrintOptions {
  char format = 0;
  const Symbolizer* symbols = nullptr;
  const ReadMemory* read_memory = nullptr;
};

// A value as gdb prints it at the top of `print` (pointers with their type,
// "(int *) 0x..."), or inside an aggregate (`top_level` false: "0x...").
std::string format_value(const Value& v, const PrintOptions& options, bool top_level);

}  // namespace backstep::symbols::dwarf

#include "symbols/variables.h"

#include <dwarf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "base/errors.h"
#include "symbols/dwarf_value.h"

namespace backstep::symbols {
namespace {

using dwarf::Type;
using dwarf::Value;

bool is_function(int tag) { return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine; }

// Finds the concrete scopes around `pc` below `parent`, outermost first.
// (dwarf_getscopes continues above an inlined body with the scopes of its
// abstract definition, not with the function it was inlined into, which is
// the one whose variables the caller frame shows.)
bool descend(Dwarf_Die* parent, Dwarf_Addr pc, std::vector<Dwarf_Die>& path) {
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return false;
  do {
    const int tag = dwarf_tag(&child);
    if (is_function(tag) || tag == DW_TAG_lexical_block) {
      if (dwarf_haspc(&child, pc) == 1) {
        path.push_back(child);
        descend(&child, pc, path);
        return true;
      }
    } else if (tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
               tag == DW_TAG_structure_type || tag == DW_TAG_union_type) {
      if (descend(&child, pc, path)) return true;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return false;
}

// Where a frame's pc is in DWARF.
struct Scopes {
  Dwfl_Module* mod = nullptr;
  Dwarf_Addr bias = 0;
  Dwarf_Die cu{};
  std::vector<Dwarf_Die> dies;  // innermost first, the CU not included
};

Scopes scopes_at(const Symbolizer& symbols, uint64_t lookup_pc) {
  Scopes s;
  if (symbols.dwfl() == nullptr) return s;
  s.mod = dwfl_addrmodule(symbols.dwfl(), lookup_pc);
  if (s.mod == nullptr) return s;
  Dwarf_Die* cu = dwfl_module_addrdie(s.mod, lookup_pc, &s.bias);
  if (cu == nullptr) return s;
  s.cu = *cu;
  descend(&s.cu, lookup_pc - s.bias, s.dies);
  std::reverse(s.dies.begin(), s.dies.end());
  return s;
}

bool is_variable(int tag) { return tag == DW_TAG_variable || tag == DW_TAG_formal_parameter; }

Dwarf_Off origin_of(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  Dwarf_Die origin;
  if (dwarf_attr(die, DW_AT_abstract_origin, &attr) == nullptr ||
      dwarf_formref_die(&attr, &origin) == nullptr) {
    return 0;
  }
  return dwarf_dieoffset(&origin);
}

// The variables and parameters a scope declares, in DWARF order. A
// concrete instance (an inlined body, an out-of-line copy of an inline
// function) may leave out some of its abstract definition's: those are
// added after, without a location, as gdb's inherit_abstract_dies does.
std::vector<Dwarf_Die> declared(Dwarf_Die* scope, int only_tag = 0) {
  std::vector<Dwarf_Die> out;
  std::set<Dwarf_Off> concrete_origins;
  Dwarf_Die child;
  if (dwarf_child(scope, &child) == 0) {
    do {
      const int tag = dwarf_tag(&child);
      if (!is_variable(tag) || (only_tag != 0 && tag != only_tag)) continue;
      if (Dwarf_Off o = origin_of(&child)) concrete_origins.insert(o);
      out.push_back(child);
    } while (dwarf_siblingof(&child, &child) == 0);
  }
  Dwarf_Attribute attr;
  Dwarf_Die abstract;
  if (dwarf_attr(scope, DW_AT_abstract_origin, &attr) != nullptr &&
      dwarf_formref_die(&attr, &abstract) != nullptr && dwarf_child(&abstract, &child) == 0) {
    do {
      const int tag = dwarf_tag(&child);
      if (!is_variable(tag) || (only_tag != 0 && tag != only_tag)) continue;
      if (concrete_origins.count(dwarf_dieoffset(&child)) == 0) out.push_back(child);
    } while (dwarf_siblingof(&child, &child) == 0);
  }
  return out;
}

bool named(Dwarf_Die* die, std::string_view name) {
  const char* n = dwarf_diename(die);
  return n != nullptr && name == n;
}

bool has_place(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  return dwarf_attr(die, DW_AT_location, &attr) != nullptr ||
         dwarf_attr(die, DW_AT_const_value, &attr) != nullptr;
}

// A global or static variable named `name` defined at the top of a CU (or
// in a namespace) of `mod`.
std::optional<Dwarf_Die> find_global_in(Dwarf_Die* parent, std::string_view name) {
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return std::nullopt;
  do {
    const int tag = dwarf_tag(&child);
    if (tag == DW_TAG_variable && named(&child, name) && has_place(&child)) return child;
    if (tag == DW_TAG_namespace) {
      if (auto found = find_global_in(&child, name)) return found;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return std::nullopt;
}

// --- expressions ---

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  bool at_end() {
    skip();
    return i_ >= s_.size();
  }
  bool take(std::string_view token) {
    skip();
    if (s_.substr(i_, token.size()) != token) return false;
    // "-" is not the start of "->".
    if (token == "-" && s_.substr(i_, 2) == "->") return false;
    i_ += token.size();
    return true;
  }
  std::optional<std::string> identifier() {
    skip();
    size_t b = i_;
    if (i_ >= s_.size() || !(std::isalpha(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) {
      return std::nullopt;
    }
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' ||
                              (s_.substr(i_, 2) == "::" && ++i_))) {
      ++i_;
    }
    return std::string(s_.substr(b, i_ - b));
  }
  std::optional<uint64_t> number() {
    skip();
    if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) return std::nullopt;
    size_t used = 0;
    const std::string rest(s_.substr(i_));
    const uint64_t v = std::stoull(rest, &used, 0);
    i_ += used;
    return v;
  }
  std::string rest() {
    skip();
    return std::string(s_.substr(i_));
  }

 private:
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  std::string_view s_;
  size_t i_ = 0;
};

[[noreturn]] void syntax_error(Parser& p) {
  const std::string rest = p.rest();
  throw Error(rest.empty() ? "A syntax error in expression, near `'."
                           : fmt::format("A syntax error in expression, near `{}'.", rest));
}

Value literal(uint64_t v) {
  Value out;
  out.type.literal = true;
  out.kind = Value::Kind::kBytes;
  out.bytes.resize(8);
  std::memcpy(out.bytes.data(), &v, 8);
  out.known.assign(8, true);
  return out;
}

}  // namespace

// The evaluation of one expression or listing in one frame.
class FrameEvaluation {
 public:
  FrameEvaluation(const Symbolizer& symbols, const FrameContext& frame)
      : symbols_(symbols), frame_(frame) {
    lookup_pc_ = frame.caller && frame.pc > 0 ? frame.pc - 1 : frame.pc;
    scopes_ = scopes_at(symbols, lookup_pc_);
    machine_.registers = &frame_.registers;
    machine_.read_memory = &frame_.read_memory;
    machine_.bias = scopes_.bias;
    if (scopes_.mod != nullptr) {
      machine_.cfa =
          dwarf::frame_cfa(scopes_.mod, lookup_pc_, frame_.registers, frame_.read_memory);
    }
    // The frame base is the physical function's: the outermost subprogram.
    for (Dwarf_Die& d : scopes_.dies) {
      if (dwarf_tag(&d) == DW_TAG_subprogram) {
        machine_.frame_base = dwarf::frame_base(&d, lookup_pc_, machine_);
        break;
      }
    }
    options_.symbols = &symbols_;
    options_.read_memory = &frame_.read_memory;
  }

  // The blocks of function number `depth` (0 innermost), innermost first,
  // ending with the function itself.
  std::vector<Dwarf_Die*> blocks(size_t depth) {
    std::vector<Dwarf_Die*> out;
    size_t seen = 0;
    for (Dwarf_Die& d : scopes_.dies) {
      if (seen == depth) out.push_back(&d);
      if (is_function(dwarf_tag(&d)) && seen++ == depth) break;
    }
    return out;
  }

  Dwarf_Die* function(size_t depth) {
    auto b = blocks(depth);
    return b.empty() ? nullptr : b.back();
  }

  std::string text_of(Dwarf_Die* var, bool top) {
    return dwarf::format_value(dwarf::variable_value(var, lookup_pc_, machine_), options_, top);
  }

  std::optional<Value> lookup(const std::string& name) {
    const size_t last = frame_.search_outer_inlines ? SIZE_MAX : frame_.inline_depth;
    for (size_t depth = frame_.inline_depth; depth <= last; ++depth) {
      auto bs = blocks(depth);
      if (bs.empty()) break;
      for (Dwarf_Die* b : bs) {
        for (Dwarf_Die& var : declared(b)) {
          if (named(&var, name)) return dwarf::variable_value(&var, lookup_pc_, machine_);
        }
      }
      // A member of the object a method runs on, as if written this->name.
      for (Dwarf_Die& var : declared(bs.back(), DW_TAG_formal_parameter)) {
        if (!named(&var, "this")) continue;
        try {
          Value self = deref(dwarf::variable_value(&var, lookup_pc_, machine_));
          if (auto m = member_of(self, name)) return m;
        } catch (const Error&) {
          // `this` optimized out here: the name is looked up further out.
        }
      }
    }
    if (scopes_.mod != nullptr) {
      if (auto g = find_global_in(&scopes_.cu, name)) {
        return dwarf::variable_value(&*g, lookup_pc_, machine_);
      }
      Dwarf_Addr bias = 0;
      Dwarf_Die* cu = nullptr;
      while ((cu = dwfl_module_nextcu(scopes_.mod, cu, &bias)) != nullptr) {
        if (auto g = find_global_in(cu, name)) {
          Machine global_machine = machine_;
          global_machine.bias = bias;
          return dwarf::variable_value(&*g, lookup_pc_, global_machine);
        }
      }
    }
    return std::nullopt;
  }

  // unary := ('*' | '&' | '-') unary | postfix
  Value unary(Parser& p) {
    if (p.take("*")) return deref(unary(p));
    if (p.take("&")) return address_of(unary(p));
    if (p.take("-")) {
      auto v = integer(unary(p));
      return literal(static_cast<uint64_t>(-v));
    }
    return postfix(p);
  }

  // sum := unary (('+' | '-') unary)*
  Value sum(Parser& p) {
    Value v = unary(p);
    for (;;) {
      bool plus = p.take("+");
      if (!plus && !p.take("-")) return v;
      Value rhs = unary(p);
      const int64_t n = integer(rhs) * (plus ? 1 : -1);
      // An array in arithmetic is a pointer to its first element.
      if (dwarf::tag_of(v.type) == DW_TAG_array_type) v = address_of(element(v, 0));
      if (dwarf::tag_of(v.type) == DW_TAG_pointer_type) {
        v = pointer_value(
            v.type,
            pointer_of(v) + n * static_cast<int64_t>(dwarf::size_of(dwarf::target_of(v.type))));
      } else {
        v = literal(static_cast<uint64_t>(integer(v) + n));
      }
    }
  }

  Value postfix(Parser& p) {
    Value v = primary(p);
    for (;;) {
      if (p.take("[")) {
        Value index = sum(p);
        if (!p.take("]")) syntax_error(p);
        v = element(v, integer(index));
      } else if (p.take(".") || p.take("->")) {
        auto name = p.identifier();
        if (!name) syntax_error(p);
        Value self = dwarf::tag_of(v.type) == DW_TAG_pointer_type ? deref(v) : v;
        auto m = member_of(self, *name);
        if (!m) throw Error(fmt::format("There is no member named {}.", *name));
        v = *m;
      } else {
        return v;
      }
    }
  }

  Value primary(Parser& p) {
    if (p.take("(")) {
      Value v = sum(p);
      if (!p.take(")")) syntax_error(p);
      return v;
    }
    if (auto n = p.number()) return literal(*n);
    if (auto name = p.identifier()) {
      if (auto v = lookup(*name)) {
        v->identifier = *name;
        return *v;
      }
      throw Error(fmt::format("No symbol \"{}\" in current context.", *name));
    }
    syntax_error(p);
  }

  int64_t integer(const Value& v) {
    if (v.kind == Value::Kind::kOptimizedOut) throw Error("value has been optimized out");
    auto i = dwarf::integer_of(v, frame_.read_memory);
    if (!i) throw Error("Argument to arithmetic operation not a number or boolean.");
    return *i;
  }

  uint64_t pointer_of(const Value& v) { return static_cast<uint64_t>(integer(v)); }

  Value pointer_value(const Type& type, uint64_t addr) {
    Value out = literal(addr);
    out.type = type;
    return out;
  }

  Value deref(const Value& v) {
    const int tag = dwarf::tag_of(v.type);
    if (tag == DW_TAG_array_type) return element(v, 0);
    if (tag == DW_TAG_reference_type || tag == DW_TAG_rvalue_reference_type) {
      Value out;
      out.type = dwarf::target_of(v.type);
      out.kind = Value::Kind::kMemory;
      out.address = pointer_of_reference(v);
      return out;
    }
    if (tag != DW_TAG_pointer_type) throw Error("Attempt to take contents of a non-pointer value.");
    Value out;
    out.type = dwarf::target_of(v.type);
    out.kind = Value::Kind::kMemory;
    out.address = pointer_of(v);
    return out;
  }

  uint64_t pointer_of_reference(const Value& v) {
    auto bytes = dwarf::read_bytes(v, frame_.read_memory);
    if (!bytes) throw Error("value has been optimized out");
    uint64_t addr = 0;
    std::memcpy(&addr, bytes->data(), std::min<size_t>(bytes->size(), sizeof addr));
    return addr;
  }

  Value address_of(const Value& v) {
    if (v.kind != Value::Kind::kMemory) {
      static const char* const kNames[] = {"rax", "rdx", "rcx", "rbx", "rsi", "rdi",
                                           "rbp", "rsp", "r8",  "r9",  "r10", "r11",
                                           "r12", "r13", "r14", "r15", "rip"};
      if (v.in_register && !v.identifier.empty() && *v.in_register >= 0 &&
          *v.in_register < static_cast<int>(std::size(kNames))) {
        throw Error(fmt::format("Address requested for identifier \"{}\" which is in register ${}",
                                v.identifier, kNames[*v.in_register]));
      }
      if (v.kind == Value::Kind::kOptimizedOut) {
        throw Error("Can't take address of a value that has been optimized out.");
      }
      throw Error("Attempt to take address of value not located in memory.");
    }
    Type t = v.type;
    ++t.pointers;
    return pointer_value(t, v.address);
  }

  Value element(const Value& v, int64_t index) {
    const int tag = dwarf::tag_of(v.type);
    const Type elem = dwarf::target_of(v.type);
    const int64_t size = static_cast<int64_t>(dwarf::size_of(elem));
    if (tag == DW_TAG_array_type) {
      return dwarf::sub_value(v, static_cast<uint64_t>(index * size), elem,
                              static_cast<uint64_t>(size));
    }
    if (tag == DW_TAG_pointer_type) {
      Value out;
      out.type = elem;
      out.kind = Value::Kind::kMemory;
      out.address = pointer_of(v) + static_cast<uint64_t>(index * size);
      return out;
    }
    throw Error("cannot subscript something of type `" + dwarf::type_name(v.type) + "'");
  }

  // A member of a struct, class or union, in its base classes too.
  static std::optional<Value> member_of(const Value& v, const std::string& name) {
    const int tag = dwarf::tag_of(v.type);
    if (!dwarf::is_aggregate(tag)) {
      throw Error(
          fmt::format("Attempt to extract a component of a value that is not a structure{}.",
                      tag == DW_TAG_pointer_type ? " pointer" : ""));
    }
    return dwarf::member(v, name);
  }

  dwarf::PrintOptions& options() { return options_; }
  const Scopes& scopes() const { return scopes_; }

 private:
  using Machine = dwarf::Machine;
  const Symbolizer& symbols_;
  const FrameContext& frame_;
  uint64_t lookup_pc_ = 0;
  Scopes scopes_;
  Machine machine_;
  dwarf::PrintOptions options_;
};

FrameVariables::FrameVariables(const Symbolizer& symbols, FrameContext frame)
    : symbols_(symbols), frame_(std::move(frame)) {}

PrintedValue FrameVariables::print(std::string_view expr, char format) const {
  FrameEvaluation ev(symbols_, frame_);
  Parser p(expr);
  Value v = ev.sum(p);
  if (!p.at_end()) syntax_error(p);
  ev.options().format = format;
  PrintedValue out;
  out.text = dwarf::format_value(v, ev.options(), true);
  out.type = dwarf::type_name(v.type);
  if (auto i = dwarf::integer_of(v, frame_.read_memory)) out.scalar = static_cast<uint64_t>(*i);
  return out;
}

std::vector<NamedValue> FrameVariables::locals() const {
  FrameEvaluation ev(symbols_, frame_);
  std::vector<NamedValue> out;
  for (Dwarf_Die* block : ev.blocks(frame_.inline_depth)) {
    for (Dwarf_Die& var : declared(block, DW_TAG_variable)) {
      Dwarf_Attribute attr;
      bool decl = false;
      // An `extern` declaration inside a function is not a local.
      if (dwarf_attr(&var, DW_AT_declaration, &attr) != nullptr &&
          dwarf_formflag(&attr, &decl) == 0 && decl) {
        continue;
      }
      const char* name = dwarf_diename(&var);
      if (name == nullptr) continue;
      out.push_back({name, ev.text_of(&var, false)});
    }
  }
  return out;
}

std::vector<NamedValue> FrameVariables::args() const {
  FrameEvaluation ev(symbols_, frame_);
  std::vector<NamedValue> out;
  Dwarf_Die* fn = ev.function(frame_.inline_depth);
  if (fn == nullptr) return out;
  for (Dwarf_Die& var : declared(fn, DW_TAG_formal_parameter)) {
    const char* name = dwarf_diename(&var);
    if (name == nullptr) continue;
    out.push_back({name, ev.text_of(&var, false)});
  }
  return out;
}

namespace {

// The string attribute `name` of the function at the frame's inline depth
// (through its abstract origin and its declaration in a class).
std::string function_attribute(const Symbolizer& symbols, const FrameContext& frame, int name) {
  Scopes s = scopes_at(symbols, frame.caller && frame.pc > 0 ? frame.pc - 1 : frame.pc);
  size_t seen = 0;
  for (Dwarf_Die& d : s.dies) {
    if (!is_function(dwarf_tag(&d)) || seen++ != frame.inline_depth) continue;
    Dwarf_Attribute attr;
    const char* text = dwarf_attr_integrate(&d, name, &attr) ? dwarf_formstring(&attr) : nullptr;
    return text == nullptr ? std::string() : std::string(text);
  }
  return {};
}

}  // namespace

std::string FrameVariables::function_name() const {
  return function_attribute(symbols_, frame_, DW_AT_name);
}

std::string FrameVariables::function_linkage_name() const {
  return function_attribute(symbols_, frame_, DW_AT_linkage_name);
}

size_t FrameVariables::function_count(const Symbolizer& symbols, uint64_t pc, bool caller) {
  Scopes s = scopes_at(symbols, caller && pc > 0 ? pc - 1 : pc);
  size_t n = 0;
  for (Dwarf_Die& d : s.dies) n += is_function(dwarf_tag(&d)) ? 1 : 0;
  return std::max<size_t>(n, 1);
}

}  // namespace backstep::symbols

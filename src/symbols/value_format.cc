// Types and values printed as gdb prints them (gdb's c_value_print and
// generic_printstr): type names in C declarator syntax, `{a = 1, b = 2}`,
// arrays with `<repeats N times>` past 10 equal elements and "..." after
// 200, char arrays and char pointers as strings, pointers with their type at
// the top level and the symbol they point into.
#include <dwarf.h>
#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "base/errors.h"
#include "symbols/dwarf_value.h"

namespace backstep::symbols::dwarf {
namespace {

struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};

constexpr size_t kPrintElements = 200;   // gdb's `set print elements`
constexpr size_t kRepeatThreshold = 10;  // gdb's `set print repeats`

std::optional<uint64_t> die_udata(Dwarf_Die* die, int name) {
  Dwarf_Attribute attr;
  Dwarf_Word value = 0;
  if (dwarf_attr_integrate(die, name, &attr) == nullptr || dwarf_formudata(&attr, &value) != 0) {
    return std::nullopt;
  }
  return value;
}

bool die_flag(Dwarf_Die* die, int name) {
  Dwarf_Attribute attr;
  bool flag = false;
  return dwarf_attr_integrate(die, name, &attr) != nullptr && dwarf_formflag(&attr, &flag) == 0 &&
         flag;
}

// The element count of a one-dimensional array type (its first subrange).
std::optional<uint64_t> array_count(Dwarf_Die* array) {
  Dwarf_Die child;
  if (dwarf_child(array, &child) != 0) return std::nullopt;
  do {
    if (dwarf_tag(&child) != DW_TAG_subrange_type) continue;
    if (auto count = die_udata(&child, DW_AT_count)) return count;
    Dwarf_Attribute attr;
    Dwarf_Sword upper = 0;
    if (dwarf_attr_integrate(&child, DW_AT_upper_bound, &attr) != nullptr &&
        dwarf_formsdata(&attr, &upper) == 0) {
      return static_cast<uint64_t>(upper + 1);
    }
    return std::nullopt;  // a flexible array member: no bound
  } while (dwarf_siblingof(&child, &child) == 0);
  return std::nullopt;
}

std::string die_name(Dwarf_Die* die) {
  const char* n = dwarf_diename(die);
  return n == nullptr ? std::string() : std::string(n);
}

// A type's name with the namespaces and classes around it, as gdb names
// it ("std::_Vector_base<int, std::allocator<int> >::pointer").
std::string qualified_name(Dwarf_Die* die) {
  std::string name = die_name(die);
  if (name.empty()) return name;
  Dwarf_Die* raw = nullptr;
  const int n = dwarf_getscopes_die(die, &raw);
  std::unique_ptr<Dwarf_Die, FreeDeleter> scopes(raw);
  for (int i = 1; i < n; ++i) {
    const int tag = dwarf_tag(&raw[i]);
    if (tag != DW_TAG_namespace && !is_aggregate(tag)) break;
    const std::string outer = die_name(&raw[i]);
    name = (outer.empty() ? "(anonymous namespace)" : outer) + "::" + name;
  }
  return name;
}

// A declarator wrapped around the type's name: "*" for "int *", "(*)[4]"
// for "int (*)[4]".
std::string name_with(const Type& t, const std::string& decl) {
  auto joined = [&](const std::string& base) {
    if (decl.empty()) return base;
    return base +
           (decl[0] == '[' || decl[0] == '(' || decl[0] == '*' || decl[0] == '&' ? " " : "") + decl;
  };
  if (t.pointers > 0) return name_with(Type{t.die, t.pointers - 1, false}, "*" + decl);
  if (!t.die) return joined(t.literal ? "long" : "void");
  Dwarf_Die die = *t.die;
  const int tag = dwarf_tag(&die);
  const Type inner = type_of_die(&die);
  switch (tag) {
    case DW_TAG_pointer_type:
      return name_with(inner, "*" + decl);
    case DW_TAG_reference_type:
      return name_with(inner, "&" + decl);
    case DW_TAG_rvalue_reference_type:
      return name_with(inner, "&&" + decl);
    case DW_TAG_const_type:
    case DW_TAG_volatile_type: {
      const char* q = tag == DW_TAG_const_type ? "const" : "volatile";
      std::optional<Dwarf_Die> inner_die = inner.die;
      if (inner_die && dwarf_tag(&*inner_die) == DW_TAG_pointer_type) {
        return name_with(inner, fmt::format(" {}{}", q, decl.empty() ? "" : " " + decl));
      }
      return std::string(q) + " " + name_with(inner, decl);
    }
    case DW_TAG_array_type: {
      auto count = array_count(&die);
      std::string dims = count ? fmt::format("[{}]", *count) : "[]";
      return name_with(inner, (decl.empty() ? "" : "(" + decl + ")") + dims);
    }
    case DW_TAG_subroutine_type: {
      std::string params;
      Dwarf_Die child;
      if (dwarf_child(&die, &child) == 0) {
        do {
          if (dwarf_tag(&child) == DW_TAG_formal_parameter) {
            params += (params.empty() ? "" : ", ") + name_with(type_of_die(&child), "");
          } else if (dwarf_tag(&child) == DW_TAG_unspecified_parameters) {
            params += params.empty() ? "..." : ", ...";
          }
        } while (dwarf_siblingof(&child, &child) == 0);
      }
      if (params.empty()) params = "void";
      return name_with(inner, (decl.empty() ? "" : "(" + decl + ")") + "(" + params + ")");
    }
    default: {
      std::string name = qualified_name(&die);
      if (name.empty()) {
        name = tag == DW_TAG_union_type         ? "union {...}"
               : tag == DW_TAG_enumeration_type ? "enum {...}"
                                                : "struct {...}";
      }
      return joined(name);
    }
  }
}

bool is_char(const Type& t) {
  auto d = peeled(t);
  if (!d || dwarf_tag(&*d) != DW_TAG_base_type) return false;
  auto enc = die_udata(&*d, DW_AT_encoding);
  return enc && (*enc == DW_ATE_signed_char || *enc == DW_ATE_unsigned_char);
}

uint64_t le_value(const std::vector<uint8_t>& bytes) {
  uint64_t v = 0;
  std::memcpy(&v, bytes.data(), std::min<size_t>(bytes.size(), sizeof v));
  return v;
}

int64_t sign_extend(uint64_t v, uint64_t size) {
  if (size >= 8 || size == 0) return static_cast<int64_t>(v);
  const unsigned bits = static_cast<unsigned>(size * 8);
  const uint64_t sign = uint64_t{1} << (bits - 1);
  v &= (sign << 1) - 1;
  return static_cast<int64_t>((v ^ sign) - sign);
}

// A character as gdb quotes it inside '' or "" (`quote` is the delimiter).
std::string escaped(uint8_t c, char quote) {
  switch (c) {
    case '\n':
      return "\\n";
    case '\t':
      return "\\t";
    case '\r':
      return "\\r";
    case '\a':
      return "\\a";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    case '\v':
      return "\\v";
    case 033:
      return "\\033";
    case '\\':
      return "\\\\";
    default:
      break;
  }
  if (c == static_cast<uint8_t>(quote)) return std::string("\\") + quote;
  if (std::isprint(c)) return std::string(1, static_cast<char>(c));
  return fmt::format("\\{:03o}", c);
}

// gdb's generic_printstr: runs of more than 10 equal characters as
// `'c' <repeats N times>`, the rest in quotes, joined by ", "; "..." when
// `truncated`.
std::string string_text(const std::vector<uint8_t>& chars, bool truncated) {
  if (chars.empty()) return truncated ? "\"\"..." : "\"\"";
  std::string out;
  bool in_quotes = false;
  size_t i = 0;
  while (i < chars.size()) {
    size_t reps = 1;
    while (i + reps < chars.size() && chars[i + reps] == chars[i]) ++reps;
    if (reps > kRepeatThreshold) {
      if (in_quotes)
        out += "\", ";
      else if (!out.empty())
        out += ", ";
      in_quotes = false;
      out += fmt::format("'{}' <repeats {} times>", escaped(chars[i], '\''), reps);
      i += reps;
      continue;
    }
    if (!in_quotes) {
      if (!out.empty()) out += ", ";
      out += '"';
      in_quotes = true;
    }
    out += escaped(chars[i], '"');
    ++i;
  }
  if (in_quotes) out += '"';
  if (truncated) out += "...";
  return out;
}

// The symbol an address is in, as gdb appends it: " <counter>", " <main+4>".
std::string symbol_suffix(uint64_t addr, const PrintOptions& o) {
  if (o.symbols == nullptr || addr == 0) return "";
  Location loc = o.symbols->locate(addr);
  if (loc.function.empty()) return "";
  return loc.offset ? fmt::format(" <{}+{}>", loc.function, loc.offset)
                    : fmt::format(" <{}>", loc.function);
}

std::string integer_text(uint64_t raw, uint64_t size, bool is_signed, char format,
                         const PrintOptions& o) {
  const uint64_t mask = size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (size * 8)) - 1;
  const uint64_t u = raw & mask;
  switch (format) {
    case 'x':
      return fmt::format("{:#x}", u);
    case 'z':
      return fmt::format("0x{:0{}x}", u, size * 2);
    case 'o':
      return u == 0 ? "0" : fmt::format("0{:o}", u);
    case 't':
      return fmt::format("{:b}", u);
    case 'd':
      return fmt::format("{}", sign_extend(u, size));
    case 'u':
      return fmt::format("{}", u);
    case 'a':
      return fmt::format("{:#x}", u) + symbol_suffix(u, o);
    case 'c': {
      auto c = static_cast<uint8_t>(u & 0xff);
      return fmt::format("{} '{}'", static_cast<int8_t>(c), escaped(c, '\''));
    }
    default:
      return is_signed ? fmt::format("{}", sign_extend(u, size)) : fmt::format("{}", u);
  }
}

// gdb prints floating-point values with printf's %g and the digits that
// make the value read back the same (9 for float, 17 for double).
std::string float_text(double value, bool single) {
  char buf[64];
  if (single) {
    std::snprintf(buf, sizeof buf, "%.9g", value);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", value);
  }
  return buf;
}

std::string float_text(long double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.18Lg", value);
  return buf;
}

[[noreturn]] void cannot_access(uint64_t addr) {
  throw Error(fmt::format("Cannot access memory at address {:#x}", addr));
}

std::string format_inner(const Value& v, const PrintOptions& o, bool top);

std::string base_text(const Type& t, const std::vector<uint8_t>& bytes, const PrintOptions& o) {
  auto d = peeled(t);
  const uint64_t size = bytes.size();
  const uint64_t raw = le_value(bytes);
  if (!d) return integer_text(raw, size, true, o.format, o);  // a literal
  const uint64_t enc = die_udata(&*d, DW_AT_encoding).value_or(DW_ATE_signed);
  const bool is_signed = enc == DW_ATE_signed || enc == DW_ATE_signed_char;
  if (o.format != 0) return integer_text(raw, size, is_signed, o.format, o);
  switch (enc) {
    case DW_ATE_boolean:
      return raw == 0 ? "false" : raw == 1 ? "true" : fmt::format("{}", raw);
    case DW_ATE_float:
      if (size == 4) {
        float f;
        std::memcpy(&f, bytes.data(), 4);
        return float_text(static_cast<double>(f), true);
      }
      if (size == 8) {
        double f;
        std::memcpy(&f, bytes.data(), 8);
        return float_text(f, false);
      }
      if (size == 16) {
        long double f;
        std::memcpy(&f, bytes.data(), sizeof f < 16 ? sizeof f : 16);
        return float_text(f);
      }
      break;
    case DW_ATE_signed_char:
    case DW_ATE_unsigned_char:
      return integer_text(raw, size, is_signed, 0, o) + " '" +
             escaped(static_cast<uint8_t>(raw), '\'') + "'";
    default:
      break;
  }
  return integer_text(raw, size, is_signed, 0, o);
}

std::string enum_text(Dwarf_Die* die, const std::vector<uint8_t>& bytes, const PrintOptions& o) {
  const uint64_t raw = le_value(bytes);
  if (o.format != 0) return integer_text(raw, bytes.size(), true, o.format, o);
  const int64_t value = sign_extend(raw, bytes.size());
  Dwarf_Die child;
  if (dwarf_child(die, &child) == 0) {
    do {
      if (dwarf_tag(&child) != DW_TAG_enumerator) continue;
      Dwarf_Attribute attr;
      Dwarf_Sword sv = 0;
      if (dwarf_attr(&child, DW_AT_const_value, &attr) != nullptr &&
          dwarf_formsdata(&attr, &sv) == 0 && sv == value) {
        return die_name(&child);
      }
    } while (dwarf_siblingof(&child, &child) == 0);
  }
  return fmt::format("{}", value);
}

// A C string at `addr`, up to 200 characters, as gdb shows a char pointer.
std::string pointed_string(uint64_t addr, const PrintOptions& o) {
  std::vector<uint8_t> chars;
  for (size_t i = 0; i < kPrintElements; ++i) {
    uint8_t c = 0;
    if (!(*o.read_memory)(addr + i, &c, 1)) {
      if (i == 0) return fmt::format(" <error: Cannot access memory at address {:#x}>", addr);
      break;
    }
    if (c == 0) return " " + string_text(chars, false);
    chars.push_back(c);
  }
  return " " + string_text(chars, chars.size() == kPrintElements);
}

std::string pointer_text(const Value& v, const std::vector<uint8_t>& bytes, const PrintOptions& o,
                         bool top) {
  const uint64_t addr = le_value(bytes);
  if (o.format != 0 && o.format != 'a') return integer_text(addr, 8, false, o.format, o);
  const Type target = target_of(v.type);
  std::string text = fmt::format("{:#x}", addr);
  if (is_char(target) && o.format == 0) {
    return addr == 0 ? text : text + symbol_suffix(addr, o) + pointed_string(addr, o);
  }
  text += symbol_suffix(addr, o);
  if (top && o.format == 0) return "(" + type_name(v.type) + ") " + text;
  return text;
}

std::string array_text(const Value& v, Dwarf_Die* array, const PrintOptions& o) {
  const Type elem = type_of_die(array);
  const uint64_t elem_size = size_of(elem);
  const uint64_t count = array_count(array).value_or(0);
  if (elem_size == 0 || count == 0) return "{}";
  if (is_char(elem) && elem_size == 1 && o.format == 0) {
    auto bytes = read_raw(v, 0, std::min<uint64_t>(count, kPrintElements), *o.read_memory);
    if (!bytes) return "<optimized out>";
    // Without `print null-stop`, gdb prints the whole array but one
    // trailing NUL.
    const bool truncated = count > kPrintElements;
    if (!truncated && !bytes->empty() && bytes->back() == 0) bytes->pop_back();
    return string_text(*bytes, truncated);
  }
  std::string out = "{";
  size_t printed = 0;
  uint64_t i = 0;
  auto same = [&](uint64_t a, uint64_t b) {
    auto x = read_bytes(sub_value(v, a * elem_size, elem, elem_size), *o.read_memory);
    auto y = read_bytes(sub_value(v, b * elem_size, elem, elem_size), *o.read_memory);
    return x && y && *x == *y;
  };
  for (; i < count && printed < kPrintElements; ++printed) {
    if (i > 0) out += ", ";
    uint64_t reps = 1;
    while (i + reps < count && same(i, i + reps)) ++reps;
    out += format_inner(sub_value(v, i * elem_size, elem, elem_size), o, false);
    if (reps > kRepeatThreshold) {
      out += fmt::format(" <repeats {} times>", reps);
      i += reps;
      printed += kRepeatThreshold - 1;
    } else {
      ++i;
    }
  }
  if (i < count) out += "...";
  return out + "}";
}

std::string struct_text(const Value& v, Dwarf_Die* st, const PrintOptions& o) {
  std::vector<std::string> fields;
  Dwarf_Die child;
  if (dwarf_child(st, &child) == 0) {
    do {
      const int tag = dwarf_tag(&child);
      if (tag != DW_TAG_member && tag != DW_TAG_inheritance && tag != DW_TAG_variable) continue;
      // Static members (DW_TAG_variable in DWARF 5, a member declaration
      // before) have no place in the object: gdb shows their constant.
      if (tag == DW_TAG_variable ||
          (tag == DW_TAG_member &&
           (die_flag(&child, DW_AT_external) || die_flag(&child, DW_AT_declaration)))) {
        fields.push_back(
            fmt::format("static {} = {}", die_name(&child),
                        format_inner(constant_value(&child, type_of_die(&child)), o, false)));
        continue;
      }
      const Type mt = type_of_die(&child);
      const uint64_t offset = die_udata(&child, DW_AT_data_member_location).value_or(0);
      std::string text;
      if (auto bits = die_udata(&child, DW_AT_bit_size)) {
        const uint64_t bit_offset = die_udata(&child, DW_AT_data_bit_offset).value_or(0);
        const uint64_t first = offset + bit_offset / 8;
        const uint64_t span = (bit_offset % 8 + *bits + 7) / 8;
        auto bytes = read_raw(v, first, span, *o.read_memory);
        if (!bytes) {
          text = "<optimized out>";
        } else {
          uint64_t raw = le_value(*bytes) >> (bit_offset % 8);
          raw &= *bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << *bits) - 1;
          std::vector<uint8_t> field(size_of(mt));
          std::memcpy(field.data(), &raw, std::min<size_t>(field.size(), sizeof raw));
          auto d = peeled(mt);
          const uint64_t enc = d ? die_udata(&*d, DW_AT_encoding).value_or(DW_ATE_signed) : 0;
          if (enc == DW_ATE_signed) {
            int64_t s = sign_extend(raw, 8);
            if (*bits < 64 && (raw >> (*bits - 1)) & 1)
              s = static_cast<int64_t>(raw | ~((uint64_t{1} << *bits) - 1));
            std::memcpy(field.data(), &s, std::min<size_t>(field.size(), sizeof s));
          }
          Value fv;
          fv.type = mt;
          fv.kind = Value::Kind::kBytes;
          fv.bytes = field;
          fv.known.assign(field.size(), true);
          text = format_inner(fv, o, false);
        }
      } else {
        text = format_inner(sub_value(v, offset, mt, size_of(mt)), o, false);
      }
      if (tag == DW_TAG_inheritance) {
        fields.push_back(fmt::format("<{}> = {}", type_name(mt), text));
      } else {
        const std::string name = die_name(&child);
        fields.push_back(name.empty() ? text : name + " = " + text);
      }
    } while (dwarf_siblingof(&child, &child) == 0);
  }
  if (fields.empty()) return "{<No data fields>}";
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) out += (i ? ", " : "") + fields[i];
  return out + "}";
}

// libstdc++'s std::vector as gdb shows it with the library's pretty
// printer (loaded by default): "std::vector of length 3, capacity 4 = {...}".
std::optional<std::string> vector_text(const Value& v, Dwarf_Die* st, const PrintOptions& o) {
  if (die_name(st).rfind("vector<", 0) != 0 || qualified_name(st).rfind("std::vector<", 0) != 0) {
    return std::nullopt;
  }
  auto impl = member(v, "_M_impl");
  if (!impl) return std::nullopt;
  auto start = member(*impl, "_M_start");
  auto finish = member(*impl, "_M_finish");
  auto storage_end = member(*impl, "_M_end_of_storage");
  if (!start || !finish || !storage_end) return std::nullopt;  // vector<bool>
  auto begin = integer_of(*start, *o.read_memory);
  auto end = integer_of(*finish, *o.read_memory);
  auto capacity_end = integer_of(*storage_end, *o.read_memory);
  const Type elem = target_of(start->type);
  const auto size = static_cast<int64_t>(size_of(elem));
  if (!begin || !end || !capacity_end || size == 0) return std::nullopt;
  const uint64_t count = static_cast<uint64_t>((*end - *begin) / size);
  std::string text =
      fmt::format("std::vector of length {}, capacity {}", count, (*capacity_end - *begin) / size);
  if (count == 0) return text;
  text += " = {";
  for (uint64_t i = 0; i < count && i < kPrintElements; ++i) {
    Value e;
    e.type = elem;
    e.kind = Value::Kind::kMemory;
    e.address = static_cast<uint64_t>(*begin) + i * static_cast<uint64_t>(size);
    text += (i ? ", " : "") + format_inner(e, o, false);
  }
  return text + (count > kPrintElements ? "...}" : "}");
}

std::string format_inner(const Value& v, const PrintOptions& o, bool top) {
  if (v.kind == Value::Kind::kOptimizedOut) return "<optimized out>";
  const int tag = tag_of(v.type);
  auto d = peeled(v.type);
  if (tag == DW_TAG_array_type) return array_text(v, &*d, o);
  if (is_aggregate(tag)) {
    if (o.format == 0) {
      if (auto text = vector_text(v, &*d, o)) return *text;
    }
    return struct_text(v, &*d, o);
  }
  const uint64_t size = size_of(v.type);
  auto bytes = read_raw(v, 0, size, *o.read_memory);
  if (!bytes) {
    if (v.kind == Value::Kind::kMemory) {
      if (top) cannot_access(v.address);
      return fmt::format("<error: Cannot access memory at address {:#x}>", v.address);
    }
    return "<optimized out>";
  }
  switch (tag) {
    case DW_TAG_pointer_type:
      return pointer_text(v, *bytes, o, top);
    case DW_TAG_reference_type:
    case DW_TAG_rvalue_reference_type: {
      const uint64_t addr = le_value(*bytes);
      Value target;
      target.type = target_of(v.type);
      target.kind = Value::Kind::kMemory;
      target.address = addr;
      // A value the pretty printer shows is shown without the reference's
      // address, as gdb does.
      if (auto td = peeled(target.type); td && is_aggregate(dwarf_tag(&*td)) && o.format == 0) {
        if (auto text = vector_text(target, &*td, o)) return *text;
      }
      std::string text = fmt::format("@{:#x}: {}", addr, format_inner(target, o, false));
      return top ? "(" + type_name(v.type) + ") " + text : text;
    }
    case DW_TAG_enumeration_type:
      return enum_text(&*d, *bytes, o);
    case DW_TAG_subroutine_type:
      return fmt::format("{{{}}} {:#x}{}", type_name(v.type), v.address,
                         symbol_suffix(v.address, o));
    default:
      return base_text(v.type, *bytes, o);
  }
}

}  // namespace

std::optional<Dwarf_Die> peeled(const Type& type) {
  if (type.pointers > 0 || !type.die) return std::nullopt;
  Dwarf_Die in = *type.die;
  Dwarf_Die out;
  if (dwarf_peel_type(&in, &out) != 0) return in;
  return out;
}

int tag_of(const Type& type) {
  if (type.pointers > 0) return DW_TAG_pointer_type;
  auto d = peeled(type);
  if (!d) return type.literal ? DW_TAG_base_type : 0;
  return dwarf_tag(&*d);
}

uint64_t size_of(const Type& type) {
  if (type.pointers > 0 || type.literal) return 8;
  auto d = peeled(type);
  if (!d) return 1;  // void, as gdb sizes it
  const int tag = dwarf_tag(&*d);
  if (tag == DW_TAG_pointer_type || tag == DW_TAG_reference_type ||
      tag == DW_TAG_rvalue_reference_type) {
    return die_udata(&*d, DW_AT_byte_size).value_or(8);
  }
  Dwarf_Word size = 0;
  if (dwarf_aggregate_size(&*d, &size) != 0) return 0;
  return size;
}

Type type_of_die(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  Dwarf_Die type;
  if (dwarf_attr_integrate(die, DW_AT_type, &attr) == nullptr ||
      dwarf_formref_die(&attr, &type) == nullptr) {
    return Type{};
  }
  return Type{type, 0, false};
}

Type target_of(const Type& type) {
  if (type.pointers > 0) return Type{type.die, type.pointers - 1, false};
  auto d = peeled(type);
  if (!d) return Type{};
  return type_of_die(&*d);
}

std::string type_name(const Type& type) { return name_with(type, ""); }

bool is_aggregate(int tag) {
  return tag == DW_TAG_structure_type || tag == DW_TAG_class_type || tag == DW_TAG_union_type;
}

std::optional<Value> member(const Value& v, std::string_view name) {
  auto st = peeled(v.type);
  if (!st || !is_aggregate(dwarf_tag(&*st))) return std::nullopt;
  Dwarf_Die child;
  if (dwarf_child(&*st, &child) != 0) return std::nullopt;
  std::vector<std::pair<Dwarf_Die, uint64_t>> bases;
  do {
    const int tag = dwarf_tag(&child);
    if (tag != DW_TAG_member && tag != DW_TAG_inheritance) continue;
    const uint64_t offset = die_udata(&child, DW_AT_data_member_location).value_or(0);
    const char* n = dwarf_diename(&child);
    if (tag == DW_TAG_inheritance || n == nullptr) {
      bases.emplace_back(child, offset);  // a base, or an anonymous union
      continue;
    }
    if (name == n) {
      const Type mt = type_of_die(&child);
      return sub_value(v, offset, mt, size_of(mt));
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  for (auto& [base, offset] : bases) {
    const Type bt = type_of_die(&base);
    if (auto m = member(sub_value(v, offset, bt, size_of(bt)), name)) return m;
  }
  return std::nullopt;
}

std::optional<std::vector<uint8_t>> read_raw(const Value& v, uint64_t offset, uint64_t size,
                                             const ReadMemory& read_memory) {
  switch (v.kind) {
    case Value::Kind::kOptimizedOut:
      return std::nullopt;
    case Value::Kind::kMemory: {
      std::vector<uint8_t> out(size);
      if (size != 0 && !read_memory(v.address + offset, out.data(), size)) return std::nullopt;
      return out;
    }
    case Value::Kind::kBytes: {
      if (v.bytes.size() < offset + size) return std::nullopt;
      for (uint64_t i = offset; i < offset + size; ++i) {
        if (!v.known[i]) return std::nullopt;
      }
      const auto begin = v.bytes.begin() + static_cast<std::ptrdiff_t>(offset);
      return std::vector<uint8_t>(begin, begin + static_cast<std::ptrdiff_t>(size));
    }
  }
  return std::nullopt;
}

std::optional<std::vector<uint8_t>> read_bytes(const Value& v, const ReadMemory& read_memory) {
  return read_raw(v, 0, size_of(v.type), read_memory);
}

Value sub_value(const Value& whole, uint64_t offset, const Type& type, uint64_t size) {
  Value v;
  v.type = type;
  v.kind = whole.kind;
  if (whole.kind == Value::Kind::kMemory) {
    v.address = whole.address + offset;
  } else if (whole.kind == Value::Kind::kBytes) {
    for (uint64_t i = offset; i < offset + size; ++i) {
      v.bytes.push_back(i < whole.bytes.size() ? whole.bytes[i] : 0);
      v.known.push_back(i < whole.known.size() && whole.known[i]);
    }
  }
  return v;
}

std::optional<int64_t> integer_of(const Value& v, const ReadMemory& read_memory) {
  const int tag = tag_of(v.type);
  if (tag != DW_TAG_base_type && tag != DW_TAG_pointer_type && tag != DW_TAG_enumeration_type) {
    return std::nullopt;
  }
  auto bytes = read_bytes(v, read_memory);
  if (!bytes) return std::nullopt;
  const uint64_t raw = le_value(*bytes);
  auto d = peeled(v.type);
  if (tag == DW_TAG_base_type && d) {
    const uint64_t enc = die_udata(&*d, DW_AT_encoding).value_or(DW_ATE_signed);
    if (enc == DW_ATE_float) return std::nullopt;
    if (enc == DW_ATE_signed || enc == DW_ATE_signed_char) return sign_extend(raw, bytes->size());
  }
  return static_cast<int64_t>(raw);
}

std::string format_value(const Value& v, const PrintOptions& options, bool top_level) {
  return format_inner(v, options, top_level);
}

}  // namespace backstep::symbols::dwarf

#include "gdbserver/target_description.h"

#include <fmt/core.h>

namespace backstep::gdbserver {
namespace {

// The types gdb 13's own amd64-linux description declares (what `maint
// print xml-tdesc` prints for a native process), so that gdb shows the
// registers exactly as it does without backstep.
constexpr std::string_view kEflagsType = R"(    <flags id="i386_eflags" size="4">
      <field name="CF" start="0" end="0" type="bool"/>
      <field name="" start="1" end="1" type="bool"/>
      <field name="PF" start="2" end="2" type="bool"/>
      <field name="AF" start="4" end="4" type="bool"/>
      <field name="ZF" start="6" end="6" type="bool"/>
      <field name="SF" start="7" end="7" type="bool"/>
      <field name="TF" start="8" end="8" type="bool"/>
      <field name="IF" start="9" end="9" type="bool"/>
      <field name="DF" start="10" end="10" type="bool"/>
      <field name="OF" start="11" end="11" type="bool"/>
      <field name="NT" start="14" end="14" type="bool"/>
      <field name="RF" start="16" end="16" type="bool"/>
      <field name="VM" start="17" end="17" type="bool"/>
      <field name="AC" start="18" end="18" type="bool"/>
      <field name="VIF" start="19" end="19" type="bool"/>
      <field name="VIP" start="20" end="20" type="bool"/>
      <field name="ID" start="21" end="21" type="bool"/>
    </flags>
)";

constexpr std::string_view kSseTypes = R"(    <vector id="v8bf16" type="bfloat16" count="8"/>
    <vector id="v8h" type="ieee_half" count="8"/>
    <vector id="v4f" type="ieee_single" count="4"/>
    <vector id="v2d" type="ieee_double" count="2"/>
    <vector id="v16i8" type="int8" count="16"/>
    <vector id="v8i16" type="int16" count="8"/>
    <vector id="v4i32" type="int32" count="4"/>
    <vector id="v2i64" type="int64" count="2"/>
    <union id="vec128">
      <field name="v8_bfloat16" type="v8bf16"/>
      <field name="v8_half" type="v8h"/>
      <field name="v4_float" type="v4f"/>
      <field name="v2_double" type="v2d"/>
      <field name="v16_int8" type="v16i8"/>
      <field name="v8_int16" type="v8i16"/>
      <field name="v4_int32" type="v4i32"/>
      <field name="v2_int64" type="v2i64"/>
      <field name="uint128" type="uint128"/>
    </union>
    <flags id="i386_mxcsr" size="4">
      <field name="IE" start="0" end="0" type="bool"/>
      <field name="DE" start="1" end="1" type="bool"/>
      <field name="ZE" start="2" end="2" type="bool"/>
      <field name="OE" start="3" end="3" type="bool"/>
      <field name="UE" start="4" end="4" type="bool"/>
      <field name="PE" start="5" end="5" type="bool"/>
      <field name="DAZ" start="6" end="6" type="bool"/>
      <field name="IM" start="7" end="7" type="bool"/>
      <field name="DM" start="8" end="8" type="bool"/>
      <field name="ZM" start="9" end="9" type="bool"/>
      <field name="OM" start="10" end="10" type="bool"/>
      <field name="UM" start="11" end="11" type="bool"/>
      <field name="PM" start="12" end="12" type="bool"/>
      <field name="FZ" start="15" end="15" type="bool"/>
    </flags>
)";

struct XmlRegister {
  const char* type;
  const char* group;  // nullptr: gdb's default
};

XmlRegister xml_type(int n) {
  if (n == 6 || n == 7) return {"data_ptr", nullptr};
  if (n < kRip) return {"int64", nullptr};
  if (n == kRip) return {"code_ptr", nullptr};
  if (n == kEflags) return {"i386_eflags", nullptr};
  if (n < kSt0) return {"int32", nullptr};
  if (n < kFctrl) return {"i387_ext", nullptr};
  if (n < kXmm0) return {"int", "float"};
  if (n < kMxcsr) return {"vec128", nullptr};
  if (n == kMxcsr) return {"i386_mxcsr", "vector"};
  return {"int", nullptr};
}

std::string build_target_xml() {
  const auto& regs = register_layout();
  auto reg_lines = [&](int from, int to) {
    std::string out;
    for (int n = from; n < to; ++n) {
      XmlRegister x = xml_type(n);
      out += fmt::format(R"(    <reg name="{}" bitsize="{}" type="{}" regnum="{}"{}/>)",
                         regs[n].name, regs[n].size * 8, x.type, n,
                         x.group ? fmt::format(R"( group="{}")", x.group) : "");
      out += '\n';
    }
    return out;
  };
  std::string xml = R"(<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target>
  <architecture>i386:x86-64</architecture>
  <osabi>GNU/Linux</osabi>
  <feature name="org.gnu.gdb.i386.core">
)";
  xml += kEflagsType;
  xml += reg_lines(kRax, kXmm0);
  xml += "  </feature>\n  <feature name=\"org.gnu.gdb.i386.sse\">\n";
  xml += kSseTypes;
  xml += reg_lines(kXmm0, kOrigRax);
  xml += "  </feature>\n  <feature name=\"org.gnu.gdb.i386.linux\">\n";
  xml += reg_lines(kOrigRax, kFsBase);
  xml += "  </feature>\n  <feature name=\"org.gnu.gdb.i386.segments\">\n";
  xml += reg_lines(kFsBase, kRegisterCount);
  xml += "  </feature>\n</target>\n";
  return xml;
}

}  // namespace

const std::vector<RegisterInfo>& register_layout() {
  static const std::vector<RegisterInfo> layout = [] {
    std::vector<RegisterInfo> r = {{"rax", 8}, {"rbx", 8}, {"rcx", 8},    {"rdx", 8}, {"rsi", 8},
                                   {"rdi", 8}, {"rbp", 8}, {"rsp", 8},    {"r8", 8},  {"r9", 8},
                                   {"r10", 8}, {"r11", 8}, {"r12", 8},    {"r13", 8}, {"r14", 8},
                                   {"r15", 8}, {"rip", 8}, {"eflags", 4}, {"cs", 4},  {"ss", 4},
                                   {"ds", 4},  {"es", 4},  {"fs", 4},     {"gs", 4}};
    static const char* st[] = {"st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7"};
    for (const char* s : st) r.push_back({s, 10});
    static const char* x87[] = {"fctrl", "fstat", "ftag",  "fiseg",
                                "fioff", "foseg", "fooff", "fop"};
    for (const char* s : x87) r.push_back({s, 4});
    static const char* xmm[] = {"xmm0",  "xmm1",  "xmm2",  "xmm3", "xmm4",  "xmm5",
                                "xmm6",  "xmm7",  "xmm8",  "xmm9", "xmm10", "xmm11",
                                "xmm12", "xmm13", "xmm14", "xmm15"};
    for (const char* s : xmm) r.push_back({s, 16});
    r.push_back({"mxcsr", 4});
    r.push_back({"orig_rax", 8});
    r.push_back({"fs_base", 8});
    r.push_back({"gs_base", 8});
    return r;
  }();
  return layout;
}

const std::string* target_description(std::string_view annex) {
  static const std::string xml = build_target_xml();
  return annex == "target.xml" ? &xml : nullptr;
}

}  // namespace backstep::gdbserver

#include "symbols/names.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "symbols/unwind.h"

namespace backstep::symbols {

size_t params_start(std::string_view s) {
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 21, "(anonymous namespace)") == 0) {
      i += 20;
      continue;
    }
    if (s.compare(i, 8, "operator") == 0) {
      i += 8;
      // Skip the operator's own punctuation: (), <, <<, <=>, [], ->, ...
      if (s.compare(i, 2, "()") == 0) {
        i += 1;
      } else {
        while (i < s.size() && std::strchr("<>=!+-*/%&|^~[],", s[i]) != nullptr) ++i;
        --i;
      }
      continue;
    }
    const char c = s[i];
    if (c == '<' || c == '{') ++depth;
    if (c == '>' || c == '}') --depth;
    if (c == '(' && depth == 0) return i;
  }
  return s.size();
}

std::string_view without_return_type(std::string_view s) {
  int depth = 0;
  size_t name_begin = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '<' || c == '(' || c == '{') ++depth;
    if ((c == '>' || c == ')' || c == '}') && depth > 0) --depth;
    if (c == ' ' && depth == 0) {
      const std::string_view before = s.substr(0, i);
      if (before.size() >= 8 && before.substr(before.size() - 8) == "operator") continue;
      name_begin = i + 1;
    }
  }
  return s.substr(name_begin);
}

namespace {

constexpr size_t kLongArguments = 40;  // class template arguments past this read as "..."

bool starts_with_at(std::string_view s, size_t i, std::string_view what) {
  return s.compare(i, what.size(), what) == 0;
}

// Where the bracket opened at s[open] closes (its index), or s.size().
size_t closing(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (starts_with_at(s, i, "operator")) {
      // "operator<", "operator()" inside a lambda's or function's name.
      i += 8;
      if (starts_with_at(s, i, "()")) {
        ++i;
      } else {
        while (i < s.size() && std::strchr("<>=!+-*/%&|^~[],", s[i]) != nullptr) ++i;
        --i;
      }
      continue;
    }
    const char c = s[i];
    if (c == '<' || c == '(' || c == '{' || c == '[') ++depth;
    if (c == '>' || c == ')' || c == '}' || c == ']') {
      if (--depth == 0) return i;
    }
  }
  return s.size();
}

// `s` split at top-level `sep` ("::" or ","), pieces trimmed of spaces.
std::vector<std::string_view> split_top(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> out;
  size_t begin = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (starts_with_at(s, i, "operator")) {
      i += 7;
      continue;
    }
    if (c == '<' || c == '(' || c == '{' || c == '[') {
      i = closing(s, i);
      continue;
    }
    if (starts_with_at(s, i, sep)) {
      out.push_back(s.substr(begin, i - begin));
      begin = i + sep.size();
      i = begin - 1;
    }
  }
  out.push_back(s.substr(begin));
  for (auto& piece : out) {
    while (!piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    while (!piece.empty() && piece.back() == ' ') piece.remove_suffix(1);
  }
  return out;
}

bool is_default_argument(std::string_view arg) {
  static constexpr std::array<std::string_view, 6> kDefaults = {
      "std::hash<",      "std::equal_to<",    "std::less<",
      "std::allocator<", "std::char_traits<", "std::default_delete<"};
  return std::any_of(kDefaults.begin(), kDefaults.end(),
                     [&](std::string_view d) { return arg.starts_with(d); });
}

std::string short_type(std::string_view type);

// One `::` component: a lambda is {lambda#N}, a function scope loses its
// parameters, template arguments are shortened (or dropped: `keep_args`).
std::string short_component(std::string_view c, bool keep_args) {
  if (c.starts_with("{lambda(")) {
    const size_t hash = c.rfind('#');
    return hash == std::string_view::npos ? "{lambda}" : "{lambda" + std::string(c.substr(hash));
  }
  if (c.starts_with("operator")) {
    // Its own punctuation ("operator()", "operator<"), not its template
    // arguments ("operator< <int>"); "operator new", conversions as they are.
    size_t end = 8;
    if (c.compare(end, 2, "()") == 0) {
      end += 2;
    } else {
      while (end < c.size() && std::strchr("<>=!+-*/%&|^~[],", c[end]) != nullptr) ++end;
    }
    return std::string(end > 8 ? c.substr(0, end) : c.substr(0, params_start(c)));
  }
  std::string out;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i] == '(') break;  // a function scope's parameters, and what follows
    if (c[i] != '<') {
      out.push_back(c[i]);
      continue;
    }
    const size_t close = closing(c, i);
    if (keep_args) {
      std::string args;
      const auto pieces = split_top(c.substr(i + 1, close - i - 1), ",");
      for (size_t k = 0; k < pieces.size(); ++k) {
        if (k > 0 && is_default_argument(pieces[k])) continue;
        args += (args.empty() ? "" : ", ") + short_type(pieces[k]);
      }
      out += "<" + (args.size() > kLongArguments ? std::string("...") : args) + ">";
    }
    i = close;
  }
  return out;
}

std::string short_type(std::string_view type) {
  if (type.starts_with("std::__cxx11::basic_string<char") ||
      type.starts_with("std::basic_string<char")) {
    return "std::string";
  }
  std::string out;
  const auto parts = split_top(type, "::");
  for (size_t k = 0; k < parts.size(); ++k) {
    if (parts[k] == "__cxx11" || parts[k] == "(anonymous namespace)") continue;
    if (k == 0 && parts[k] == "backstep" && parts.size() > 1) continue;
    out += (out.empty() ? "" : "::") + short_component(parts[k], true);
  }
  return out;
}

}  // namespace

std::string short_function_name(std::string_view s) {
  // " [clone .isra.0]", " [clone .cold]", several of them.
  for (size_t at; (at = s.rfind(" [clone ")) != std::string_view::npos && s.ends_with("]");) {
    s = s.substr(0, at);
  }
  // The function's own parameter list is the last top-level '(' (the
  // earlier ones belong to the functions a lambda or local class is in).
  size_t params = s.size();
  for (size_t i = params_start(s); i < s.size(); i = closing(s, i) + 1) {
    while (i < s.size() && s[i] != '(' && s[i] != '<' && s[i] != '{') ++i;
    if (i >= s.size()) break;
    if (s[i] == '(') params = i;
  }
  if (params == 0) return std::string(s);
  const std::string_view name = without_return_type(s.substr(0, params));
  auto parts = split_top(name, "::");
  if (parts.empty() || parts.back().empty()) return std::string(s);
  // A lambda's call operator is the lambda.
  if (parts.size() > 1 && parts.back() == "operator()" &&
      parts[parts.size() - 2].starts_with("{lambda")) {
    parts.pop_back();
  }
  std::string out;
  for (size_t k = 0; k < parts.size(); ++k) {
    if (parts[k] == "__cxx11" || parts[k] == "(anonymous namespace)") continue;
    if (k == 0 && parts[k] == "backstep" && parts.size() > 1) continue;
    out += (out.empty() ? "" : "::") + short_component(parts[k], k + 1 < parts.size());
  }
  // "> >" as C++11 writes it.
  for (size_t at; (at = out.find("> >")) != std::string::npos;) out.erase(at + 1, 1);
  return out.empty() ? std::string(s) : out;
}

std::string display_name(std::string_view demangled, NameStyle style) {
  return style == NameStyle::kFull ? std::string(demangled) : short_function_name(demangled);
}

std::string thread_name(const std::vector<Frame>& frames, std::string_view executable,
                        std::string_view comm) {
  auto base = [](std::string_view path) { return path.substr(path.rfind('/') + 1); };
  const std::string_view exe_base = base(executable);
  if (!comm.empty() && comm != exe_base.substr(0, 15)) return std::string(comm);
  std::string lambda;
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
    const Location& w = it->where;
    if (w.function.empty() || base(w.module) != exe_base) continue;
    const std::string name = short_function_name(w.function);
    if (name.starts_with("std::") || name.starts_with("GoMap") || name.starts_with("_") ||
        w.function.starts_with("backstep::") || name.find("::_") != std::string::npos) {
      continue;
    }
    if (name.ends_with("}")) {  // a lambda: a named function it calls reads better
      if (lambda.empty()) lambda = name;
      continue;
    }
    return name;
  }
  return lambda;
}

}  // namespace backstep::symbols

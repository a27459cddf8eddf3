// How functions and threads are named for display. A demangled C++ name is
// exact but long (`int* backstep::GoMap<int, int, std::hash<int>,
// std::equal_to<int> >::assign<...{lambda(unsigned char*, bool)#1}>(...)
// [clone .isra.0]`); stacks show a short name (`GoMap<int, int>::assign`)
// unless the full one is asked for.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace backstep::symbols {

struct Frame;

enum class NameStyle {
  kShort,  // short_function_name
  kFull,   // the demangled name as is
};

// The parameter list of a demangled name starts at the first '(' outside
// template arguments, except inside "operator()" and "(anonymous
// namespace)"; s.size() when there is none.
size_t params_start(std::string_view s);

// Demangled function templates start with their return type
// ("int geo::scale<int>(int)"): the name is what follows the last space
// outside brackets, unless that space belongs to "operator new" and the like.
std::string_view without_return_type(std::string_view s);

// The readable form of a demangled function name:
//   - no return type, no parameter lists (also those of the functions a
//     lambda or local class is in), no `const`, no ` [clone .isra.0]`;
//   - a lambda is `{lambda#1}`, and its `::operator()` is left out;
//   - the function's own template arguments are left out, a class's are
//     kept without the defaults (std::hash, std::equal_to, std::less,
//     std::allocator, std::char_traits, std::default_delete), and as `...`
//     when they stay long;
//   - `backstep::` (the map's namespace: users know it as GoMap),
//     `(anonymous namespace)::` and `std::__cxx11::` are left out,
//     std::basic_string<char> is std::string.
// C names and anything that does not parse come back unchanged.
std::string short_function_name(std::string_view demangled);

// `demangled` in `style`.
std::string display_name(std::string_view demangled, NameStyle style);

// What a thread is called when its stack is `frames` (innermost first,
// inlined calls expanded) and the kernel calls it `comm`:
//   - `comm`, when the program named the thread (pthread_setname_np or
//     prctl(PR_SET_NAME)), that is when it differs from what the kernel
//     calls an unnamed thread (the executable's file name, cut to 15
//     bytes), and is not empty;
//   - else the outermost function of the user's own code on the stack: in
//     `executable` (the module path frames carry), not libstdc++'s thread
//     machinery (std::...), the map (backstep::...), the C runtime (_start,
//     names starting with '_') nor a lambda when the lambda calls a named
//     function (a pool's `[this] { worker_loop(); }` is `Pool::worker_loop`);
//     its short name;
//   - else empty.
std::string thread_name(const std::vector<Frame>& frames, std::string_view executable,
                        std::string_view comm);

}  // namespace backstep::symbols

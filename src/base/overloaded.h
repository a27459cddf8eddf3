// The usual helper for std::visit with one lambda per alternative.
#pragma once

namespace backstep {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
// gcc deduces this for an aggregate by itself (C++20); clang 14, which
// builds the fuzzers, needs the guide.
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace backstep

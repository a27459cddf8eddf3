// The usual helper for std::visit with one lambda per alternative.
#pragma once

namespace backstep {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};

}  // namespace backstep

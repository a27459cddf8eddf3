// `backstep pack` and `backstep unpack`: a recording as one portable file
// for bug reports, and back.
#include <fmt/core.h>

#include <filesystem>
#include <memory>

#include "base/errors.h"
#include "cli/subcommand.h"
#include "share/bundle.h"
#include "trace/trace_dir.h"

namespace backstep::cli {
namespace {

namespace fs = std::filesystem;

struct PackArgs {
  std::string trace;
  std::string output;
  bool keep_env = false;
};

struct UnpackArgs {
  std::string bundle;
  std::string output;
};

int run_pack(const PackArgs* args) {
  fs::path dir = trace::TraceDir::resolve(args->trace).path();
  share::PackResult r = share::pack(dir, args->output, {.keep_env = args->keep_env});
  fmt::print(stderr, "backstep: packed {} into {} ({} entries, {} bytes, {} compressed){}\n",
             dir.string(), args->output, r.files, r.raw_bytes, r.bundle_bytes,
             r.env_redacted ? "; environment values redacted (--keep-env keeps them)" : "");
  return 0;
}

// Without -o: a directory named after the bundle, in the current directory.
fs::path default_unpack_dir(const fs::path& bundle) {
  fs::path name = bundle.filename();
  if (name.has_extension()) name = name.stem();
  fs::path dir = fs::current_path() / name;
  if (fs::exists(dir)) {
    throw Error(fmt::format("{} already exists; choose another directory with -o", dir.string()));
  }
  return dir;
}

int run_unpack(const UnpackArgs* args) {
  fs::path dir = args->output.empty() ? default_unpack_dir(args->bundle) : fs::path(args->output);
  fmt::print("{}\n", share::unpack(args->bundle, dir).string());
  return 0;
}

}  // namespace

void add_pack_commands(CLI::App& app, Subcommands& out) {
  auto pack = std::make_shared<PackArgs>();
  auto* p = app.add_subcommand(
      "pack", "Pack a recording (trace, program and every mapped file) into one file");
  add_trace_argument(p, pack->trace);
  p->add_option("-o,--output", pack->output, "The bundle to write")->required();
  p->add_flag("--keep-env", pack->keep_env,
              "Keep the environment's values (by default each value byte becomes 'x')");
  out.push_back({p, [pack] { return run_pack(pack.get()); }});

  auto unpack = std::make_shared<UnpackArgs>();
  auto* u = app.add_subcommand("unpack", "Unpack a bundle into a trace directory; prints its path");
  u->add_option("bundle", unpack->bundle, "The bundle written by pack")->required();
  u->add_option("-o,--output", unpack->output,
                "Trace directory to create (default: named after the bundle, in the current "
                "directory)");
  out.push_back({u, [unpack] { return run_unpack(unpack.get()); }});
}

}  // namespace backstep::cli

// A gcc plugin that places backstep's tick counter where it costs least.
//
// Ticks must bound how far a thread can run without one (so that a spinning
// thread can be preempted) and must be identical in every run of the same
// binary (so that a position counted in ticks can be found again). Both hold
// if every function entry and every loop header counts one: no execution can
// go on forever without passing one of them.
//
// gcc's own -fsanitize-coverage=trace-pc (still used with other compilers)
// inserts a call at every basic block early in the pipeline, and those calls,
// which may read and write any memory, then stop the optimizers: measured on
// the map workload, the program ran 2x slower even with the calls replaced by
// nops afterwards. This pass runs last among the GIMPLE passes, after every
// optimization, and inserts a volatile asm that declares no clobbers at all:
// the counter (src/runtime/ticks.cc) keeps every register and the vector
// state, and nothing the program keeps in registers or memory has to move.
// The call steps over the red zone the enclosing code may be using.
// gcc's headers must come in this order (each relies on the ones before).
// clang-format off
#include <gcc-plugin.h>
#include <plugin-version.h>
#include <tree.h>
#include <tree-pass.h>
#include <context.h>
#include <basic-block.h>
#include <function.h>
#include <gimple.h>
#include <gimple-iterator.h>
#include <cfganal.h>
#include <stringpool.h>
#include <attribs.h>
#include <diagnostic-core.h>
// clang-format on

int plugin_is_GPL_compatible;

namespace {

// `%%` because an asm with operand lists (empty here) is an extended asm.
constexpr char kTickAsm[] =
    "leaq -128(%%rsp), %%rsp\n\t"
    "call __sanitizer_cov_trace_pc@PLT\n\t"
    "leaq 128(%%rsp), %%rsp";

constexpr pass_data kTickPassData = {
    GIMPLE_PASS,  // type
    "backstep_ticks",
    OPTGROUP_NONE,  // optinfo_flags
    TV_NONE,        // tv_id
    PROP_cfg,       // properties_required
    0,              // properties_provided
    0,              // properties_destroyed
    0,              // todo_flags_start
    0,              // todo_flags_finish
};

void count_tick_at_start_of(basic_block bb) {
  gasm* tick = gimple_build_asm_vec(kTickAsm, nullptr, nullptr, nullptr, nullptr);
  gimple_asm_set_volatile(tick, true);
  gimple_stmt_iterator at = gsi_after_labels(bb);
  gsi_insert_before(&at, tick, GSI_SAME_STMT);
}

class TickPass : public gimple_opt_pass {
 public:
  explicit TickPass(gcc::context* ctx) : gimple_opt_pass(kTickPassData, ctx) {}

  unsigned int execute(function* fn) override {
    // The attributes that keep trace-pc out keep ticks out too.
    tree attrs = DECL_ATTRIBUTES(fn->decl);
    if (lookup_attribute("no_instrument_function", attrs) ||
        lookup_attribute("no_sanitize_coverage", attrs)) {
      return 0;
    }
    // Loop headers: the targets of back edges in a depth-first walk, which
    // catches irreducible loops too. Counting at the header rather than on
    // the edge splits no edge (abnormal ones cannot be split) and costs one
    // extra tick per entry into the loop.
    mark_dfs_back_edges(fn);
    auto_bitmap tick_blocks;
    bitmap_set_bit(tick_blocks, single_succ(ENTRY_BLOCK_PTR_FOR_FN(fn))->index);
    basic_block bb;
    FOR_EACH_BB_FN(bb, fn) {
      edge e;
      edge_iterator ei;
      FOR_EACH_EDGE(e, ei, bb->succs) {
        if ((e->flags & EDGE_DFS_BACK) && e->dest->index >= NUM_FIXED_BLOCKS) {
          bitmap_set_bit(tick_blocks, e->dest->index);
        }
      }
    }
    unsigned index;
    bitmap_iterator it;
    EXECUTE_IF_SET_IN_BITMAP(tick_blocks, 0, index, it) {
      count_tick_at_start_of(BASIC_BLOCK_FOR_FN(fn, index));
    }
    return 0;
  }
};

}  // namespace

int plugin_init(plugin_name_args* info, plugin_gcc_version* version) {
  if (!plugin_default_version_check(version, &gcc_version)) {
    error("backstep tick plugin: built for gcc %s, loaded by gcc %s", gcc_version.basever,
          version->basever);
    return 1;
  }
  // After "optimized", the last GIMPLE pass before expansion to RTL: it runs
  // once per function at every optimization level.
  register_pass_info pass;
  pass.pass = new TickPass(g);
  pass.reference_pass_name = "optimized";
  pass.ref_pass_instance_number = 1;
  pass.pos_op = PASS_POS_INSERT_AFTER;
  register_callback(info->base_name, PLUGIN_PASS_MANAGER_SETUP, nullptr, &pass);
  return 0;
}

# backstep_instrument(<target> [HOOKS_ONLY])
#
# Builds <target> for deterministic recording:
#  - every basic block of its own code calls __sanitizer_cov_trace_pc(),
#    which the runtime turns into a per-thread tick counter (this machine
#    kind has no PMU, so progress is counted in software), and which can
#    stop the thread at a tick the tracer asked for;
#  - it links backstep_runtime (map events, fatal errors, random source).
# HOOKS_ONLY links the runtime without counting ticks.
function(backstep_instrument target)
  cmake_parse_arguments(ARG "HOOKS_ONLY" "" "" ${ARGN})
  if(NOT ARG_HOOKS_ONLY)
    target_compile_options(${target} PRIVATE -fsanitize-coverage=trace-pc)
  endif()
  target_link_libraries(${target} PRIVATE backstep_gomap)
endfunction()

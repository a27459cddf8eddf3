# backstep_instrument(<target> [HOOKS_ONLY])
#
# Builds <target> for deterministic recording:
#  - its own code counts ticks, a per-thread count of function entries and
#    loop iterations that stands in for the PMU this machine kind lacks, and
#    can stop the thread at a tick the tracer asked for. With gcc the plugin
#    in src/instrument inserts the counter after optimization; with other
#    compilers every basic block calls it (-fsanitize-coverage=trace-pc),
#    which is exact too but about twice as slow;
#  - it links backstep::gomap: the instrumented map's headers and
#    backstep::runtime (the counter, map events, fatal errors, random source).
# HOOKS_ONLY links the runtime without counting ticks.
#
# The same file serves backstep's own tree and an installed backstep
# (find_package(backstep), see backstepConfig.cmake.in). Both set:
#  - global property BACKSTEP_TICK_PLUGIN: the plugin to load, empty when the
#    compiler cannot load it (not the gcc that built it);
#  - global property BACKSTEP_TICK_PLUGIN_TARGET: in backstep's own tree, the
#    target that builds the plugin.
function(backstep_instrument target)
  cmake_parse_arguments(ARG "HOOKS_ONLY" "" "" ${ARGN})
  if(NOT ARG_HOOKS_ONLY)
    get_property(plugin GLOBAL PROPERTY BACKSTEP_TICK_PLUGIN)
    if(plugin)
      target_compile_options(${target} PRIVATE "-fplugin=${plugin}")
      target_compile_definitions(${target} PRIVATE BACKSTEP_TICKS_FROM_PLUGIN=1)
      get_property(plugin_target GLOBAL PROPERTY BACKSTEP_TICK_PLUGIN_TARGET)
      if(plugin_target)
        add_dependencies(${target} ${plugin_target})
      endif()
      # A rebuilt (or reinstalled) plugin must recompile what it instrumented.
      get_target_property(sources ${target} SOURCES)
      get_target_property(source_dir ${target} SOURCE_DIR)
      foreach(source IN LISTS sources)
        set_property(SOURCE ${source} DIRECTORY ${source_dir} APPEND PROPERTY OBJECT_DEPENDS
                     ${plugin})
      endforeach()
    else()
      target_compile_options(${target} PRIVATE -fsanitize-coverage=trace-pc)
    endif()
  endif()
  target_link_libraries(${target} PRIVATE backstep::gomap)
endfunction()

# What `cmake --install` puts where (GNUInstallDirs), the CMake package and
# pkg-config file other projects find it with, the compiler wrappers for
# other build systems, and the Debian package (`cpack -G DEB`).
#
#   bin/                        backstep, backstep-cc, backstep-c++
#   include/backstep/           gomap/go_map.h, runtime/abi.h, runtime/runtime.h
#   LIBDIR/                     the runtime pieces (BACKSTEP_RUNTIME_PIECES)
#   LIBDIR/backstep/            the tick plugin (backstep_ticks.so)
#   LIBDIR/cmake/backstep/      backstepConfig.cmake & co (find_package(backstep))
#   LIBDIR/pkgconfig/           backstep.pc
#   share/doc/backstep/         README, docs, examples/standalone
#
# Everything refers to everything else by relative paths, so that an
# installed tree can move (a `dpkg -x` root, a temporary prefix).

foreach(dir IN ITEMS BINDIR LIBDIR INCLUDEDIR DOCDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    message(FATAL_ERROR "backstep installs relocatably: CMAKE_INSTALL_${dir} must be relative")
  endif()
endforeach()

set(BACKSTEP_INSTALL_PKGLIBDIR ${CMAKE_INSTALL_LIBDIR}/backstep)
set(BACKSTEP_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/backstep)
set(BACKSTEP_INSTALL_PLUGIN ${BACKSTEP_INSTALL_PKGLIBDIR}/backstep_ticks.so)
set(BACKSTEP_GCC_VERSION "")
if(TARGET backstep_tick_plugin)
  set(BACKSTEP_GCC_VERSION ${CMAKE_CXX_COMPILER_VERSION})
endif()

# The runtime pieces: what recorded programs link or load, installed next to
# the command. Today the static runtime that backstep_instrument() links
# (exported as backstep::runtime). A piece the recorder loads into programs
# (a preload library) goes to BACKSTEP_INSTALL_PKGLIBDIR, where the command
# finds it relative to its own path (bin/../LIBDIR/backstep).
set(BACKSTEP_RUNTIME_PIECES backstep_runtime)
install(TARGETS ${BACKSTEP_RUNTIME_PIECES} backstep_gomap EXPORT backstepTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${BACKSTEP_INSTALL_PKGLIBDIR})
install(FILES src/gomap/go_map.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/backstep/gomap)
install(FILES src/runtime/abi.h src/runtime/runtime.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/backstep/runtime)
if(TARGET backstep_tick_plugin)
  install(TARGETS backstep_tick_plugin LIBRARY DESTINATION ${BACKSTEP_INSTALL_PKGLIBDIR})
endif()

install(TARGETS backstep EXPORT backstepTargets RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# CMake: find_package(backstep), backstep_instrument().
include(CMakePackageConfigHelpers)
install(EXPORT backstepTargets NAMESPACE backstep:: DESTINATION ${BACKSTEP_INSTALL_CMAKEDIR})
configure_package_config_file(
  cmake/backstepConfig.cmake.in ${PROJECT_BINARY_DIR}/package/backstepConfig.cmake
  INSTALL_DESTINATION ${BACKSTEP_INSTALL_CMAKEDIR}
  PATH_VARS BACKSTEP_INSTALL_PLUGIN)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/backstepConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/backstepConfig.cmake
              ${PROJECT_BINARY_DIR}/package/backstepConfigVersion.cmake
              cmake/BackstepInstrument.cmake
        DESTINATION ${BACKSTEP_INSTALL_CMAKEDIR})

# pkg-config, with paths relative to the .pc file itself.
file(RELATIVE_PATH BACKSTEP_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" BACKSTEP_PC_TO_PREFIX "${BACKSTEP_PC_TO_PREFIX}")
if(TARGET backstep_tick_plugin)
  set(BACKSTEP_PC_INSTRUMENT_CFLAGS "-fplugin=\${plugin}")
else()
  set(BACKSTEP_PC_INSTRUMENT_CFLAGS "-fsanitize-coverage=trace-pc")
endif()
configure_file(cmake/backstep.pc.in ${PROJECT_BINARY_DIR}/package/backstep.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/package/backstep.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Compiler wrappers: CC=backstep-cc CXX=backstep-c++ make.
file(RELATIVE_PATH BACKSTEP_BIN_TO_PREFIX /prefix/${CMAKE_INSTALL_BINDIR} /prefix)
foreach(wrapper IN ITEMS "backstep-cc;C;BACKSTEP_CC;cc" "backstep-c++;C++;BACKSTEP_CXX;c++")
  list(GET wrapper 0 BACKSTEP_WRAPPER_NAME)
  list(GET wrapper 1 BACKSTEP_WRAPPER_LANGUAGE)
  list(GET wrapper 2 BACKSTEP_WRAPPER_ENV)
  list(GET wrapper 3 BACKSTEP_WRAPPER_DEFAULT)
  configure_file(cmake/backstep-compiler-wrapper.in
                 ${PROJECT_BINARY_DIR}/package/${BACKSTEP_WRAPPER_NAME} @ONLY)
  install(PROGRAMS ${PROJECT_BINARY_DIR}/package/${BACKSTEP_WRAPPER_NAME}
          DESTINATION ${CMAKE_INSTALL_BINDIR})
endforeach()

install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
install(DIRECTORY examples/standalone DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# The Debian package: cpack -G DEB --config build/CPackConfig.cmake gives
# backstep_<version>_amd64.deb, its Depends computed by dpkg-shlibdeps.
# Packaging (like `cmake --install`) takes the tree as built: it does not
# build everything first (the suite packages the tree it is testing).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_PACKAGE_NAME backstep)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "deterministic record-and-replay crash investigator for multi-threaded C++ programs")
set(CPACK_PACKAGE_DESCRIPTION
    "Records a multi-threaded program one thread at a time under ptrace, without hardware "
    "performance counters, and replays it exactly: time travel, a gdb server, crash reports, "
    "and an instrumented Go-semantics map whose races it explains.")
set(BACKSTEP_PACKAGE_CONTACT "backstep maintainers <backstep@localhost>"
    CACHE STRING "Maintainer field of the Debian package")
set(CPACK_PACKAGE_CONTACT "${BACKSTEP_PACKAGE_CONTACT}")
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Building programs to record needs a compiler; the plugin loads into
# gcc ${BACKSTEP_GCC_VERSION} only (other compilers get trace-pc ticks).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "g++, gdb")
# The command and the plugin without their debug information (installing
# strips executables and modules, never static libraries: the runtime keeps
# its, for the backtraces of recorded programs).
set(CPACK_STRIP_FILES ON)
include(CPack)

# Instrumented builds, each in a build dir of its own (Makefile: sanitize, fuzz).
#   EXED_SANITIZE=ON  everything with ASan + UBSan, UB fatal (make sanitize, run by make test)
#   EXED_FUZZ=ON      clang only: the same plus libFuzzer coverage; build the
#                     exed_fuzzers target (make fuzz)
option(EXED_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(EXED_FUZZ "Build the libFuzzer targets of tests/fuzz (needs clang)" OFF)

if(EXED_SANITIZE OR EXED_FUZZ)
  set(exed_sanitizers -fsanitize=address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer)
  add_compile_options(${exed_sanitizers})
  # make sanitize's build type: -O1 keeps ASan's reports exact and compiles
  # in about half the time of -O2 -g; -g1 still names file:line in traces.
  set(CMAKE_CXX_FLAGS_SANITIZE "-O1 -g1" CACHE STRING "flags of the Sanitize build type")
  set(CMAKE_C_FLAGS_SANITIZE "-O1 -g1" CACHE STRING "flags of the Sanitize build type")
  add_link_options(${exed_sanitizers})
endif()
if(EXED_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "EXED_FUZZ needs clang (cmake -DCMAKE_CXX_COMPILER=clang++-14)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

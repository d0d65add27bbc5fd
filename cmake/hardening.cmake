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
  add_link_options(${exed_sanitizers})
endif()
if(EXED_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "EXED_FUZZ needs clang (cmake -DCMAKE_CXX_COMPILER=clang++-14)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

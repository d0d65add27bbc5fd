# Fuzz targets (tests/fuzz/fuzz_*.cpp). Always built as replay programs that
# run the committed corpus (tests/fuzz/corpus/<target>/: seeds and every
# input that once found a bug) as ctest tests "fuzz replay: <target>"; with
# EXED_FUZZ=ON also as libFuzzer programs fuzz_<target> (make fuzz).
set(EXED_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
set(EXED_ANSIBLE_SRC ${CMAKE_SOURCE_DIR}/executors/ansible/src)

add_library(exed_fuzz_host_pattern_code STATIC
  ${EXED_ANSIBLE_SRC}/host_pattern.cpp ${EXED_ANSIBLE_SRC}/fnmatch.cpp)
target_include_directories(exed_fuzz_host_pattern_code PUBLIC ${EXED_ANSIBLE_SRC})
target_link_libraries(exed_fuzz_host_pattern_code PUBLIC exed::sdk Poco::Foundation)

set(exed_fuzz_targets host_pattern request event_format config request_gate)
function(exed_fuzz_link target name)
  if(name STREQUAL "host_pattern")
    target_link_libraries(${target} PRIVATE exed_fuzz_host_pattern_code)
  else()
    target_link_libraries(${target} PRIVATE exed_core)
  endif()
endfunction()

add_custom_target(exed_fuzzers)
# Every replay program: the sanitizer pass (make sanitize) builds this one
# target, so a new fuzz target's replay is never left out of it.
add_custom_target(exed_fuzz_replays)
foreach(name ${exed_fuzz_targets})
  add_executable(fuzz_replay_${name} ${EXED_FUZZ_DIR}/replay_main.cpp ${EXED_FUZZ_DIR}/fuzz_${name}.cpp)
  add_dependencies(exed_fuzz_replays fuzz_replay_${name})
  exed_fuzz_link(fuzz_replay_${name} ${name})
  add_test(NAME "fuzz replay: ${name}"
           COMMAND fuzz_replay_${name} ${EXED_FUZZ_DIR}/corpus/${name})
  set_tests_properties("fuzz replay: ${name}" PROPERTIES LABELS fuzz TIMEOUT 300)
  if(EXED_FUZZ)
    add_executable(fuzz_${name} ${EXED_FUZZ_DIR}/fuzz_${name}.cpp)
    exed_fuzz_link(fuzz_${name} ${name})
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    add_dependencies(exed_fuzzers fuzz_${name})
  endif()
endforeach()

# Integration tests of the daemon itself: real exed processes, a real
# redis-server, and the test executor plugin (a TEST PLUGIN, no ansible).
add_library(exed_test_http STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/support/temp_dir.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/support/http_client.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/support/exed_process.cpp)
target_include_directories(exed_test_http PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(exed_test_http PUBLIC exed_core doctest::doctest)
target_compile_definitions(exed_test_http PUBLIC
  EXED_BUILD_DIR="${CMAKE_BINARY_DIR}" EXED_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  EXED_TOOLS_DIR="${EXED_TOOLS_DIR}")

add_executable(exed_core_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/main.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/api_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/hostile_input_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/faults_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/plugin_host_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/crash_stall_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/readiness_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/orphans_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/load_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/slow_clients_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/jobs_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/workers_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/cli_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/exectl_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/metrics_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/openapi_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/sdk_package_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/node_registry_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/sdk_compat_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/release_local_test.cpp)
target_link_libraries(exed_core_tests PRIVATE exed_test_http)
target_compile_definitions(exed_core_tests PRIVATE EXED_CMAKE="${CMAKE_COMMAND}")
add_dependencies(exed_core_tests exed exectl exed_test_plugins exed_common exed_ansible exed_agent_executor)
doctest_discover_tests(exed_core_tests TEST_PREFIX "core: ")

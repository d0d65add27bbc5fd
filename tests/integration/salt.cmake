# The salt executor's suite: the plugin against tests/fixtures/salt_api_simulator.py
# (a salt-api SIMULATOR on 127.0.0.1; Salt is not packaged for Debian 12).
add_executable(exed_salt_tests
  integration/salt_main.cpp
  integration/salt_simulator.cpp
  integration/salt_executor_test.cpp
  integration/salt_executor_failures_test.cpp
  integration/salt_api_e2e_test.cpp
  integration/salt_real_shapes_test.cpp
)
target_link_libraries(exed_salt_tests PRIVATE exed_test_http)
target_include_directories(exed_salt_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
add_dependencies(exed_salt_tests exed exed_salt)
doctest_discover_tests(exed_salt_tests TEST_PREFIX "salt (simulator): ")

# The Ansible executor against real hosts: sshd on 127.0.0.11.. (see
# support/ssh_hosts.hpp), real ansible, exed_ansible.so loaded like the
# daemon loads it. Needs root (mount namespaces), openssh-server, ansible.

# The real-host fixture, reusable by other suites (the release tests).
add_library(exed_test_support STATIC support/ssh_hosts.cpp)
target_include_directories(exed_test_support PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(exed_test_support PUBLIC fmt::fmt)

add_executable(exed_ansible_tests
  unit/main.cpp
  integration/ansible_executor_test.cpp
  integration/ansible_patterns_test.cpp
  integration/ansible_check_test.cpp
  integration/ansible_forkserver_test.cpp
  integration/ansible_support.cpp
)
target_link_libraries(exed_ansible_tests PRIVATE exed_core exed_test_support doctest::doctest
  Poco::JSON Poco::Foundation)
target_include_directories(exed_ansible_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(exed_ansible_tests PRIVATE
  EXED_BUILD_DIR="${CMAKE_BINARY_DIR}"
  EXED_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
add_dependencies(exed_ansible_tests exed_ansible)
doctest_discover_tests(exed_ansible_tests TEST_PREFIX "ansible: "
  PROPERTIES TIMEOUT 180 LABELS ansible RESOURCE_LOCK ssh_hosts)

# Real exed daemons with the ansible executor: cancel, run_timeout and a
# kill -9 of exed leave no process of the job on local and ssh hosts.
# (exed_test_http is defined in core.cmake, included after this file.)
add_executable(exed_ansible_daemon_tests
  unit/main.cpp
  integration/ansible_cleanup_test.cpp
)
target_link_libraries(exed_ansible_daemon_tests PRIVATE exed_test_http exed_test_support)
add_dependencies(exed_ansible_daemon_tests exed exed_ansible)
doctest_discover_tests(exed_ansible_daemon_tests TEST_PREFIX "ansible (daemon): "
  PROPERTIES TIMEOUT 180 LABELS ansible RESOURCE_LOCK ssh_hosts)

# One argv rule (issue 24): the same cmd through the ansible executor (ssh)
# and the agent executor (a real `exed agent`) gives the same result.
add_executable(exed_argv_rule_tests
  unit/main.cpp
  integration/argv_rule_test.cpp
)
target_link_libraries(exed_argv_rule_tests PRIVATE exed_test_http exed_test_support)
add_dependencies(exed_argv_rule_tests exed exed_ansible exed_agent_executor)
doctest_discover_tests(exed_argv_rule_tests TEST_PREFIX "ansible (daemon): "
  PROPERTIES TIMEOUT 180 LABELS ansible RESOURCE_LOCK ssh_hosts)

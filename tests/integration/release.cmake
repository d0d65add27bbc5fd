# Releases over real ssh hosts (needs the ansible executor and its ssh-host
# fixture, exed_test_support, from ansible.cmake).
if(TARGET exed_test_support AND TARGET exed_ansible)
  add_executable(exed_release_tests
    ${CMAKE_CURRENT_SOURCE_DIR}/unit/main.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/integration/release_ssh_test.cpp)
  target_link_libraries(exed_release_tests PRIVATE exed_test_http exed_test_support)
  add_dependencies(exed_release_tests exed exed_ansible exed_common)
  doctest_discover_tests(exed_release_tests TEST_PREFIX "release (ssh): "
    PROPERTIES RESOURCE_LOCK ssh_hosts)
endif()

# The Shovey face (issue 16): real exed processes, a real redis-server;
# shovey_ssh_test.cpp runs ansible over the sshd test hosts, the other
# files use the test executor plugin (cheap: many jobs, many nodes).
if(TARGET exed_test_support AND TARGET exed_ansible)
  add_executable(exed_shovey_tests
    ${CMAKE_CURRENT_SOURCE_DIR}/unit/main.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/integration/shovey_ssh_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/integration/shovey_api_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/integration/shovey_store_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/integration/shovey_agent_reports_test.cpp)
  target_link_libraries(exed_shovey_tests PRIVATE exed_test_http exed_test_support)
  add_dependencies(exed_shovey_tests exed exed_ansible exed_test_plugins)
  doctest_discover_tests(exed_shovey_tests TEST_PREFIX "shovey: " PROPERTIES TIMEOUT 300 LABELS shovey RESOURCE_LOCK ssh_hosts)
endif()

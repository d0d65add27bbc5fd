# The exed agent and the agent executor: real exed, real `exed agent`
# processes on loopback (docs/agent.md).
add_executable(exed_agent_tests
  unit/main.cpp
  integration/agent_ops_test.cpp
  integration/agent_refusals_test.cpp
  integration/agent_scale_test.cpp
  integration/agent_tls_test.cpp
  integration/agent_limits_test.cpp
  integration/agent_frames_test.cpp
  integration/agent_shovey_test.cpp
  integration/agent_commands_test.cpp
  integration/agent_identity_test.cpp
  integration/agent_resume_test.cpp
)
target_link_libraries(exed_agent_tests PRIVATE exed_test_http Poco::Crypto)
target_include_directories(exed_agent_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
add_dependencies(exed_agent_tests exed exed_agent_executor exed_test_plugins)
doctest_discover_tests(exed_agent_tests TEST_PREFIX "agent: ")

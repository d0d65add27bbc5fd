# Issue 15: tokens, scopes, target ACLs, TLS, browser defences, secrets,
# audit and rate limit, against real exed processes (test executor plugin,
# real redis-server, real openssl for certificates).
add_executable(exed_security_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/main.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/security_tokens_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/security_browser_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/security_tls_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/security_secrets_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/security_defaults_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/security_shovey_test.cpp)
target_link_libraries(exed_security_tests PRIVATE exed_test_http)
add_dependencies(exed_security_tests exed exed_test_plugins exed_common)
doctest_discover_tests(exed_security_tests TEST_PREFIX "security: ")

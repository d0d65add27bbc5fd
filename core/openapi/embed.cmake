# docs/openapi.json, the one source of the API description, compiled into
# exed for GET /openapi.json (re-generated whenever the file changes).
set(openapi_json ${CMAKE_SOURCE_DIR}/docs/openapi.json)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${openapi_json})
file(READ ${openapi_json} EXED_OPENAPI_TEXT)
configure_file(${CMAKE_CURRENT_LIST_DIR}/document.cpp.in ${CMAKE_CURRENT_BINARY_DIR}/openapi_document.cpp @ONLY)
target_sources(exed_core PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/openapi_document.cpp
  ${CMAKE_CURRENT_LIST_DIR}/route.cpp)

# The plugin host process and exed's client of it (core/pluginhost).
set(EXED_PLUGINHOST_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/frame.cpp
  ${CMAKE_CURRENT_LIST_DIR}/protocol.cpp
  ${CMAKE_CURRENT_LIST_DIR}/crash_report.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_main.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_serve.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tracked_groups.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_process.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/make_client.cpp)

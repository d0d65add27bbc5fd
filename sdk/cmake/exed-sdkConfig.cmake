# find_package(exed-sdk) entry: the exed::sdk target and exed_add_plugin().
include(${CMAKE_CURRENT_LIST_DIR}/exed-sdkTargets.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/exed-sdk-plugin.cmake)

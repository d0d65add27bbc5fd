# exed_add_plugin(<target> <sources>...)
# Builds an exed plugin: a MODULE library exporting only exed_plugin_entry.
# Set EXED_PLUGIN_OUTPUT_DIR to choose where the .so lands in the build tree.
function(exed_add_plugin target)
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE exed::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  # An unresolved symbol must fail the link, not a job at run time.
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  if(EXED_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${EXED_PLUGIN_OUTPUT_DIR})
  endif()
endfunction()

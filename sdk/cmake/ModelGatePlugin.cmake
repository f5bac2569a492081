# modelgate_add_backend(<name> <source>...)
#
# Builds a ModelGate backend plugin libmg_<name>.so from the sources: a MODULE library
# linked against ModelGate::plugin_sdk, with hidden visibility and a linker version script
# so that it exports only mg_backend_entry. The target is called mg_<name>.
include_guard(GLOBAL)

function(modelgate_add_backend name)
  if(NOT name MATCHES "^[a-z0-9_]+$")
    message(FATAL_ERROR "modelgate_add_backend: backend name '${name}' must match [a-z0-9_]+")
  endif()
  # The map sits beside this file, in the source tree and in the installed package alike.
  set(map "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/modelgate_plugin.map")
  add_library(mg_${name} MODULE ${ARGN})
  target_link_libraries(mg_${name} PRIVATE ModelGate::plugin_sdk)
  set_target_properties(mg_${name} PROPERTIES
    PREFIX "lib"
    SUFFIX ".so"
    OUTPUT_NAME "mg_${name}"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LINK_DEPENDS "${map}")
  target_link_options(mg_${name} PRIVATE "LINKER:--version-script=${map}")
endfunction()

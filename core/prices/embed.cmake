# Compiles a text file (the default price table) into the binary, so the
# engine needs no data file at run time.
#
# burnrate_embed_text(<out_var> INPUT <file> NAMESPACE <ns> SYMBOL <name>)
#   Adds a build step that writes <binary dir>/<name>.cc defining
#     extern const char <ns>::<name>[];          // the file's bytes, NUL-terminated
#     extern const size_t <ns>::<name>Size;      // their count, without the NUL
#   and sets <out_var> to that file for the caller's SOURCES. The step reruns
#   whenever the input changes; no reconfigure is needed.
#
# The same file is also the generator: the build step runs it with
# `cmake -P` (script mode), which takes the EMBED_* variables below.

if(CMAKE_SCRIPT_MODE_FILE)
  foreach(var EMBED_INPUT EMBED_OUTPUT EMBED_NAMESPACE EMBED_SYMBOL)
    if(NOT DEFINED ${var})
      message(FATAL_ERROR "embed.cmake: ${var} is not set")
    endif()
  endforeach()
  file(READ "${EMBED_INPUT}" content)
  # A raw string literal ends at )<delimiter>"; refuse input that contains it
  # rather than emit a truncated table.
  set(delimiter "burnrate_embed")
  string(FIND "${content}" ")${delimiter}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "embed.cmake: ${EMBED_INPUT} contains the raw-string terminator "
                        "')${delimiter}\"'; change the delimiter in ${CMAKE_SCRIPT_MODE_FILE}")
  endif()
  set(generated "// Generated from ${EMBED_INPUT} by core/prices/embed.cmake. Do not edit.\n")
  string(APPEND generated "#include <cstddef>\n\n")
  string(APPEND generated "namespace ${EMBED_NAMESPACE} {\n\n")
  string(APPEND generated "extern const char ${EMBED_SYMBOL}[];\n")
  string(APPEND generated "extern const size_t ${EMBED_SYMBOL}Size;\n\n")
  string(APPEND generated "const char ${EMBED_SYMBOL}[] = R\"${delimiter}(")
  string(APPEND generated "${content}")
  string(APPEND generated ")${delimiter}\";\n")
  string(APPEND generated "const size_t ${EMBED_SYMBOL}Size = sizeof(${EMBED_SYMBOL}) - 1;\n\n")
  string(APPEND generated "}  // namespace ${EMBED_NAMESPACE}\n")
  file(WRITE "${EMBED_OUTPUT}" "${generated}")
  return()
endif()

function(burnrate_embed_text out_var)
  cmake_parse_arguments(ARG "" "INPUT;NAMESPACE;SYMBOL" "" ${ARGN})
  foreach(arg INPUT NAMESPACE SYMBOL)
    if(NOT ARG_${arg})
      message(FATAL_ERROR "burnrate_embed_text: ${arg} is required")
    endif()
  endforeach()
  get_filename_component(input "${ARG_INPUT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  set(output "${CMAKE_CURRENT_BINARY_DIR}/${ARG_SYMBOL}.cc")
  add_custom_command(
    OUTPUT "${output}"
    COMMAND "${CMAKE_COMMAND}" "-DEMBED_INPUT=${input}" "-DEMBED_OUTPUT=${output}"
            "-DEMBED_NAMESPACE=${ARG_NAMESPACE}" "-DEMBED_SYMBOL=${ARG_SYMBOL}"
            -P "${CMAKE_CURRENT_FUNCTION_LIST_FILE}"
    DEPENDS "${input}" "${CMAKE_CURRENT_FUNCTION_LIST_FILE}"
    COMMENT "Embedding ${ARG_INPUT} as ${ARG_NAMESPACE}::${ARG_SYMBOL}"
    VERBATIM)
  set(${out_var} "${output}" PARENT_SCOPE)
endfunction()

# burnrate_library(NAME SOURCES ... DEPS ...)
#   Declares the module library burnrate_<NAME> with the alias burnrate::<NAME>.
#   Public headers are included as "<module>/<header>.h" from the repository root.
function(burnrate_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(burnrate_${name} STATIC ${ARG_SOURCES})
  add_library(burnrate::${name} ALIAS burnrate_${name})
  target_include_directories(burnrate_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(burnrate_${name} PUBLIC ${ARG_DEPS})
endfunction()

# burnrate_test(NAME SOURCES ... DEPS ... LABEL unit|integration)
#   One GoogleTest executable; each TEST becomes a CTest test carrying LABEL.
function(burnrate_test name)
  cmake_parse_arguments(ARG "" "LABEL" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE BURNRATE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                                             BURNRATE_BINARY_DIR="${PROJECT_BINARY_DIR}")
  set(timeout 120)
  if(ARG_LABEL STREQUAL "integration")
    set(timeout 600)
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${timeout}
                       DISCOVERY_TIMEOUT 60)
endfunction()

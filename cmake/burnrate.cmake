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

# burnrate_test(NAME SOURCES ... DEPS ... LABEL label [RUN_ALONE filter] [COST seconds])
#   One GoogleTest executable; each TEST becomes a CTest test carrying LABEL:
#   `unit`, `integration`, or `integration-latency` for integration tests that
#   assert a latency bound, which scripts/test runs apart from the others
#   (`ctest -L` takes a regular expression, so `-L integration` runs them too).
#   Integration tests share one Kafka and Redis and run side by side;
#   RUN_ALONE is a GoogleTest filter (e.g. "*.RedisRestart*") of the tests
#   that stop a service of it: CTest runs each with no other test beside it
#   (RUN_SERIAL). A private stack each, run beside the others, was tried and
#   dropped (docs/benchmarks.md, "Build and test time").
#   COST is roughly how long each of its tests runs: `ctest -j` starts the
#   costliest first, so that a long test does not end the run on its own.
# Every test's timeout is multiplied by this: a sanitizer build
# (scripts/test --sanitize) makes each process several times slower.
set(BURNRATE_TEST_TIMEOUT_SCALE 1 CACHE STRING "Factor applied to every test's timeout")
function(burnrate_test name)
  cmake_parse_arguments(ARG "" "LABEL;RUN_ALONE;COST" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  # One translation unit per executable: GoogleTest and the JSON headers are
  # parsed once, not once per file, which takes a fifth off the tests' build
  # (docs/benchmarks.md, "Build and test time"). File-local names must
  # therefore differ between the files of one executable.
  set_target_properties(${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 0)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE BURNRATE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                                             BURNRATE_BINARY_DIR="${PROJECT_BINARY_DIR}")
  set(timeout 120)
  if(ARG_LABEL MATCHES "^integration")
    set(timeout 600)
  endif()
  math(EXPR timeout "${timeout} * ${BURNRATE_TEST_TIMEOUT_SCALE}")
  set(properties LABELS ${ARG_LABEL} TIMEOUT ${timeout})
  if(ARG_COST)
    list(APPEND properties COST ${ARG_COST})
  endif()
  if(NOT ARG_RUN_ALONE)
    gtest_discover_tests(${name} PROPERTIES ${properties} DISCOVERY_TIMEOUT 60)
    return()
  endif()
  # Discovered twice: the tests outside the filter, then those in it.
  gtest_discover_tests(${name} TEST_FILTER "-${ARG_RUN_ALONE}"
                       PROPERTIES ${properties} DISCOVERY_TIMEOUT 60)
  gtest_discover_tests(${name} TEST_FILTER "${ARG_RUN_ALONE}"
                       PROPERTIES ${properties} RUN_SERIAL TRUE DISCOVERY_TIMEOUT 60)
endfunction()

# cb_add_gtest(<name> SOURCES <files...> LIBS <targets...>)
# One GoogleTest executable, discovered test by test at ctest time. Tests
# find third-party reference data through CB_REFERENCE_DIR (../shared/reference
# beside the checkout) and built plugins through CB_PLUGIN_DIR.
set(CB_REFERENCE_DIR "${PROJECT_SOURCE_DIR}/../shared/reference" CACHE PATH "Third-party reference data")

function(cb_add_gtest name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  cb_target_defaults(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 60
    PROPERTIES
      TIMEOUT ${ARG_TIMEOUT}
      LABELS "${ARG_LABELS}"
      ENVIRONMENT "CB_REFERENCE_DIR=${CB_REFERENCE_DIR};CB_SOURCE_DIR=${PROJECT_SOURCE_DIR};CB_BINARY_DIR=${PROJECT_BINARY_DIR};CB_PLUGIN_DIR=${CAREBRIDGE_BUILD_PLUGIN_DIR}")
endfunction()

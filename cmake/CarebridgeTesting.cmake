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
  target_compile_definitions(${name} PRIVATE CB_BUILT_REFERENCE_DIR="${CB_REFERENCE_DIR}")
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  # The paths tests need come from the ctest preset's environment or else the
  # compiled-in fallbacks (gtest_discover_tests in PRE_TEST mode splits an
  # ENVIRONMENT list apart, whatever the escaping);
  # LABELS is only passed when given, since an empty value swallows the next
  # keyword.
  set(props TIMEOUT ${ARG_TIMEOUT})
  if(ARG_LABELS)
    list(APPEND props LABELS "${ARG_LABELS}")
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 60
    PROPERTIES ${props})
endfunction()

# vaultd_add_test(NAME name SOURCES a.cc b.cc LIBS lib1 lib2 [LABELS l1 l2] [TIMEOUT s])
# (LABELS tsan: the tests use threads; `scripts/test --tsan` builds and runs them under TSan.)
#
# The one way to add a GoogleTest binary: links gtest_main, discovers every TEST
# as its own ctest case, and tells the test where the built binaries and
# libraries are (VAULTD_BIN_DIR / VAULTD_LIB_DIR), plus the source tree
# (VAULTD_SOURCE_DIR) for test data.
function(vaultd_add_test)
  if(NOT VAULTD_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock Threads::Threads)
  target_compile_definitions(${T_NAME} PRIVATE
    VAULTD_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
    VAULTD_LIB_DIR="${CMAKE_BINARY_DIR}/lib"
    VAULTD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(${T_NAME}
    DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${T_TIMEOUT})
  # Labels go on the directory: gtest_discover_tests re-splits a PROPERTIES list
  # in its generated script, so only the first label would survive there. One
  # folder holds one area's tests, so the folder's labels are the tests' labels.
  if(T_LABELS)
    set_property(DIRECTORY APPEND PROPERTY LABELS ${T_LABELS})
  endif()
  # Label `tsan`: the folder's tests use threads and run under ThreadSanitizer too.
  # The label is the folder's, so every test binary of the folder is built for it.
  set_property(DIRECTORY APPEND PROPERTY VAULTD_TEST_TARGETS ${T_NAME})
  get_property(dir_labels DIRECTORY PROPERTY LABELS)
  if("tsan" IN_LIST dir_labels)
    get_property(dir_targets DIRECTORY PROPERTY VAULTD_TEST_TARGETS)
    add_dependencies(vaultd_tsan_tests ${dir_targets})
  endif()
endfunction()

# Adds every direct subfolder of the current source folder that has a
# CMakeLists.txt (one folder per area: bench/crdt, tests/unit/shim, ...), so a
# new area needs no edit here. EXCLUDE names folders to skip.
function(vaultd_add_area_subdirectories)
  cmake_parse_arguments(A "" "" "EXCLUDE" ${ARGN})
  file(GLOB dirs LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT dirs)
  foreach(dir ${dirs})
    if(NOT dir IN_LIST A_EXCLUDE AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/CMakeLists.txt)
      add_subdirectory(${dir})
    endif()
  endforeach()
endfunction()

# include/psn/version.h is the version programs see at compile time and
# psn_version() reports at run time; project() gives it to the SONAME, the
# packages, psn.pc and psnConfigVersion.cmake. They must agree: bump both.
file(STRINGS ${PROJECT_SOURCE_DIR}/include/psn/version.h _psn_version_lines
  REGEX "^#define PSN_VERSION_(MAJOR|MINOR|PATCH|STRING) ")
set(_psn_header_version)
foreach(part MAJOR MINOR PATCH)
  string(REGEX MATCH "PSN_VERSION_${part} ([0-9]+)" _m "${_psn_version_lines}")
  list(APPEND _psn_header_version ${CMAKE_MATCH_1})
endforeach()
list(JOIN _psn_header_version "." _psn_header_version)
string(REGEX MATCH "PSN_VERSION_STRING \"([^\"]*)\"" _m "${_psn_version_lines}")
if(NOT _psn_header_version STREQUAL PROJECT_VERSION OR NOT CMAKE_MATCH_1 STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "include/psn/version.h says ${_psn_header_version} (\"${CMAKE_MATCH_1}\"), "
    "project() says ${PROJECT_VERSION}: make them agree")
endif()

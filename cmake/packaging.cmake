# Debian packages (issue 13), built by CPack's DEB generator (`make package`):
#   libpsn<SOVERSION>  the shared library, libpsn.so.<SOVERSION> and its file
#   libpsn-dev         headers (psn/ and psn-win32/), libpsn.a, the libpsn.so
#                      link, psn.pc and psn-win32.pc, the CMake package, the
#                      man pages
# Install components: `runtime` and `development` (the default for every
# install rule that names none). Configure with -DCMAKE_INSTALL_PREFIX=/usr
# so that GNUInstallDirs picks Debian's multiarch libdir; `make package` does.

get_target_property(PSN_SOVERSION psn_shared SOVERSION)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME psn)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "psn <psn@localhost>")
# Each package's description: its first line is the package's summary.
set(_psn_summary "Windows' ProcessSocketNotifications and completion ports on Linux")
set(_psn_about "psn brings the socket notification model of Windows 10 build 20348,
ProcessSocketNotifications on an I/O completion port, to Linux, with
Windows' names and semantics, over epoll or io_uring.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# As Debian ships libraries: without their debugging sections.
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libpsn${PSN_SOVERSION})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
# Depends: from the library's own needs (dpkg-shlibdeps); a shlibs file and
# the ldconfig trigger for the packages built against it.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "${_psn_summary} (library)
${_psn_about}

This package holds the shared library.")

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libpsn-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(_psn_dev_depends
  "libpsn${PSN_SOVERSION} (= ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})")
if(PSN_HAVE_IO_URING)
  # libpsn.a and `pkg-config --static psn` need -luring.
  string(APPEND _psn_dev_depends ", liburing-dev")
endif()
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "${_psn_dev_depends}")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION "${_psn_summary} (development)
${_psn_about}

This package holds the headers for C11 (<psn/psn.h>, Windows names) and
C++20 (<psn/psn.hpp>), the psn-win32 headers (<winsock2.h>, <windows.h>...
for Windows sources), the static library, the pkg-config files psn and
psn-win32, the CMake package (find_package(psn)) and the man pages (psn(7),
one page per function).")

include(CPack)

# psn for Windows (included from the top-level CMakeLists.txt when
# CMAKE_SYSTEM_NAME is Windows, in place of everything Linux-only).
#
# On Windows the C interface is the system's own: <psn/psn.h> is
# include/windows/psn/psn.h (Winsock and <windows.h>, plus the socket
# notification declarations an older SDK lacks), and libpsn holds what is
# left: the C++ interface of <psn/psn.hpp> over the native calls
# (src/windows/) and psn_version(). Built by `make windows` with mingw-w64
# (cmake/mingw-w64-x86_64.cmake); nothing here runs the result.

add_compile_options(-Wall -Wextra)
if(PSN_WERROR)
  add_compile_options(-Werror)
endif()
# Programs and the DLL carry their own C and C++ runtime, so the .exe files
# run on a Windows machine without mingw-w64's DLLs next to them.
add_link_options(-static-libgcc $<$<LINK_LANGUAGE:CXX>:-static-libstdc++>)

set(PSN_WINDOWS_SOURCES src/windows/cxx_api.cpp src/api/version.cpp)
add_library(psn_shared SHARED ${PSN_WINDOWS_SOURCES})
add_library(psn_static STATIC ${PSN_WINDOWS_SOURCES})
foreach(t psn_shared psn_static)
  # libpsn.dll with its import library libpsn.dll.a, and libpsn.a.
  set_target_properties(${t} PROPERTIES OUTPUT_NAME psn)
  # include/windows first: its psn/psn.h is the one for Windows.
  target_include_directories(${t} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include/windows>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${t} PUBLIC ws2_32)
endforeach()
# The DLL exports what src/windows marks for export, never the symbols of
# the static C++ runtime inside it (which would clash with a program's own).
target_compile_definitions(psn_shared PRIVATE PSN_BUILDING_DLL)
set_target_properties(psn_shared PROPERTIES EXPORT_NAME shared)
set_target_properties(psn_static PROPERTIES EXPORT_NAME static)
add_library(psn ALIAS psn_shared)
add_library(psn::psn ALIAS psn_shared)
add_library(psn::static ALIAS psn_static)

set(PSN_WINDOWS_PROGRAMS)

# The C examples are plain Windows programs (<winsock2.h>, <windows.h>): they
# build against the SDK alone. sdk-compat supplies the socket notification
# declarations where the SDK lacks them; -Wno-unknown-pragmas because gcc
# does not know `#pragma comment(lib, "Ws2_32.lib")` (ws2_32 is linked here).
if(PSN_BUILD_EXAMPLES)
  foreach(example mt_tcp_server poll_replacement edge_udp mt_server_scenario iocp_echo_server
                  iocp_http_server)
    if(EXISTS ${PROJECT_SOURCE_DIR}/examples/${example}.c)
      add_executable(${example} examples/${example}.c)
      set_target_properties(${example} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
                                                  C_EXTENSIONS OFF)
      target_include_directories(${example} PRIVATE
        ${PROJECT_SOURCE_DIR}/include/windows/sdk-compat ${PROJECT_SOURCE_DIR}/include/windows
        ${PROJECT_SOURCE_DIR}/include)
      target_compile_options(${example} PRIVATE -Wno-unknown-pragmas)
      target_link_libraries(${example} PRIVATE ws2_32)
      list(APPEND PSN_WINDOWS_PROGRAMS ${example})
    endif()
  endforeach()
endif()

# A C++20 program on psn::port, linked against the DLL and against the archive.
if(PSN_BUILD_TESTS)
  add_executable(psn_port_demo tests/windows/port_demo.cpp)
  target_link_libraries(psn_port_demo PRIVATE psn::psn)
  add_executable(psn_port_demo_static tests/windows/port_demo.cpp)
  target_link_libraries(psn_port_demo_static PRIVATE psn::static)
  foreach(t psn_port_demo psn_port_demo_static)
    set_target_properties(${t} PROPERTIES CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON
                                          CXX_EXTENSIONS OFF)
  endforeach()
  list(APPEND PSN_WINDOWS_PROGRAMS psn_port_demo psn_port_demo_static)

  # The outputs are x86-64 PE files: programs, the DLL, its import library.
  enable_testing()
  set(pe_files)
  foreach(t ${PSN_WINDOWS_PROGRAMS})
    list(APPEND pe_files $<TARGET_FILE:${t}>)
  endforeach()
  add_test(NAME windows.pe
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/windows/check_pe.sh
      $<TARGET_FILE:psn_shared> $<TARGET_LINKER_FILE:psn_shared> $<TARGET_FILE:psn_static>
      -- ${pe_files})
endif()

# Installation: the Windows headers under the names programs include, the
# libraries, a CMake package and a pkg-config file.
include(CMakePackageConfigHelpers)
install(FILES include/windows/psn/psn.h include/psn/psn.hpp include/psn/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/psn)
install(TARGETS psn_shared psn_static EXPORT psnTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT psnTargets NAMESPACE psn:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/psn)
configure_package_config_file(cmake/psnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/psnConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/psn)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/psnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/psnConfig.cmake ${PROJECT_BINARY_DIR}/psnConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/psn)
file(RELATIVE_PATH PSN_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
set(PSN_PC_PRIVATE_LIBS "-lws2_32")
configure_file(cmake/psn.pc.in ${PROJECT_BINARY_DIR}/psn.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/psn.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(PSN_WINDOWS_PROGRAMS)
  install(TARGETS ${PSN_WINDOWS_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# examples.cmake - builds the psn examples. Included from examples/CMakeLists.txt
# (include(${CMAKE_CURRENT_SOURCE_DIR}/examples.cmake)); paths are relative to
# this file so it works from anywhere.
#
#   poll_replacement  C11, <psn/psn.h>: single-threaded, persistent level-triggered loop
#   edge_udp          C11, <psn/psn.h>: edge-triggered UDP receiver, drained to EAGAIN
#   http_server       C++20, <psn/psn.hpp>: multi-threaded HTTP/1.1 keep-alive server
#   resp_server       C++20, <psn/psn.hpp>: multi-threaded Redis-protocol (RESP2) server
#
# poll_replacement and edge_udp check themselves and exit 0 on success; the two
# servers are exercised by tests/integration.

find_package(Threads REQUIRED)

foreach(example poll_replacement edge_udp)
  add_executable(${example} ${CMAKE_CURRENT_LIST_DIR}/${example}.c)
  set_target_properties(${example} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
                                              C_EXTENSIONS OFF)
  target_link_libraries(${example} PRIVATE psn_shared Threads::Threads)
endforeach()

foreach(example http_server resp_server)
  add_executable(${example} ${CMAKE_CURRENT_LIST_DIR}/${example}.cpp)
  set_target_properties(${example} PROPERTIES CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON
                                              CXX_EXTENSIONS OFF)
  target_link_libraries(${example} PRIVATE psn_shared Threads::Threads)
endforeach()

# examples.cmake - builds the psn examples. Included from examples/CMakeLists.txt
# (include(${CMAKE_CURRENT_SOURCE_DIR}/examples.cmake)); paths are relative to
# this file so it works from anywhere.
#
# Windows programs (C11: <winsock2.h>, <ws2tcpip.h>, <windows.h> and the C
# library only), built through psn-win32 (target psn::win32):
#   poll_replacement    single-threaded, persistent level-triggered loop
#   edge_udp            edge-triggered UDP receiver, drained to WSAEWOULDBLOCK
#   mt_server_scenario  the documented multi-threaded server: worker threads on
#                       one port, shared state under an SRWLOCK, exit packets
#   iocp_echo_server    the classic overlapped echo server (AcceptEx, WSARecv,
#                       WSASend on worker threads) and its ConnectEx client
#   iocp_http_server    an HTTP/1.1 keep-alive server on the same model: AcceptEx,
#                       WSARecv and WSASend completions on worker threads
# C++20 on <psn/psn.hpp> (Linux programs):
#   http_server         multi-threaded HTTP/1.1 keep-alive server
#   resp_server         multi-threaded Redis-protocol (RESP2) server
#
# The C examples (and mt_tcp_server, in CMakeLists.txt) check themselves and
# exit 0 on success; tests/integration runs them, and drives the servers.

find_package(Threads REQUIRED)

foreach(example poll_replacement edge_udp mt_server_scenario iocp_echo_server
                iocp_http_server)
  add_executable(${example} ${CMAKE_CURRENT_LIST_DIR}/${example}.c)
  set_target_properties(${example} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
                                              C_EXTENSIONS OFF)
  target_link_libraries(${example} PRIVATE psn::win32)
endforeach()

foreach(example http_server resp_server)
  add_executable(${example} ${CMAKE_CURRENT_LIST_DIR}/${example}.cpp)
  set_target_properties(${example} PROPERTIES CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON
                                              CXX_EXTENSIONS OFF)
  target_link_libraries(${example} PRIVATE psn_shared Threads::Threads)
endforeach()

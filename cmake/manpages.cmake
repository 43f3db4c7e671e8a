# Man pages (issue 13): docs/man/<name>.<section>.md, pandoc's markdown, are
# the single source of the section 3 and 7 pages and of docs/reference.md.
# docs/man/manpages.py renders them with pandoc into ${PROJECT_BINARY_DIR}/man
# (man3/, man7/, gzipped; a name a page documents beside its own gets a .so
# link), generates docs/reference.md and checks both. See docs/packaging.md.

find_package(Python3 REQUIRED COMPONENTS Interpreter)
find_program(PSN_PANDOC pandoc)
option(PSN_BUILD_MANPAGES "Build and install the man pages (needs pandoc)" ON)
set(PSN_MANPAGES_TOOL ${PROJECT_SOURCE_DIR}/docs/man/manpages.py)
set(PSN_MAN_DIR ${PROJECT_BINARY_DIR}/man)

if(PSN_BUILD_MANPAGES AND NOT PSN_PANDOC)
  message(WARNING "pandoc not found: the man pages are not built (Debian: apt-get install pandoc)")
endif()

if(PSN_BUILD_MANPAGES AND PSN_PANDOC)
  file(GLOB PSN_MAN_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/*.[1-8].md)
  add_custom_command(OUTPUT ${PSN_MAN_DIR}/.stamp
    COMMAND ${Python3_EXECUTABLE} ${PSN_MANPAGES_TOOL} build --pandoc ${PSN_PANDOC}
            --version ${PROJECT_VERSION} --out ${PSN_MAN_DIR}
    COMMAND ${CMAKE_COMMAND} -E touch ${PSN_MAN_DIR}/.stamp
    DEPENDS ${PSN_MAN_SOURCES} ${PSN_MANPAGES_TOOL} ${PROJECT_SOURCE_DIR}/docs/man/man.lua
    COMMENT "Rendering the man pages with pandoc"
    VERBATIM)
  add_custom_target(psn_manpages ALL DEPENDS ${PSN_MAN_DIR}/.stamp)
  install(DIRECTORY ${PSN_MAN_DIR}/man3 ${PSN_MAN_DIR}/man7
    DESTINATION ${CMAKE_INSTALL_MANDIR} COMPONENT development)
endif()

# `ninja reference` rewrites docs/reference.md from the pages.
add_custom_target(reference
  COMMAND ${Python3_EXECUTABLE} ${PSN_MANPAGES_TOOL} reference
  COMMENT "Generating docs/reference.md from docs/man"
  VERBATIM)

if(PSN_BUILD_TESTS)
  # docs/reference.md is what the pages say (fails when someone edited one
  # without the other: edit docs/man/, then `ninja reference`).
  add_test(NAME docs.reference
    COMMAND ${Python3_EXECUTABLE} ${PSN_MANPAGES_TOOL} reference --check)
  # Every public C function has a page, and every page renders with
  # `man -l` without a warning. Skipped (77) without pandoc.
  if(PSN_BUILD_MANPAGES AND PSN_PANDOC)
    add_test(NAME docs.man
      COMMAND ${Python3_EXECUTABLE} ${PSN_MANPAGES_TOOL} check --man ${PSN_MAN_DIR})
  else()
    add_test(NAME docs.man COMMAND ${CMAKE_COMMAND} -E echo "pandoc not found: skipped")
    set_tests_properties(docs.man PROPERTIES SKIP_REGULAR_EXPRESSION "skipped")
  endif()
  set_tests_properties(docs.reference docs.man PROPERTIES
    TIMEOUT 120 ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()

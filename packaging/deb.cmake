# `make deb`: one exed_<version>_amd64.deb (CPack DEB) with exed, exectl,
# the plugins, the SDK's CMake package, /etc/exed/exe.conf (a conffile) and
# the systemd units. The same build tree serves `make install`: exed finds
# its plugins relative to its own binary (<prefix>/lib/exed/plugins).

# The packaged exe.conf: the dev one with system paths.
file(READ ${CMAKE_SOURCE_DIR}/etc/exe.conf conf)
string(REPLACE "run_dir = run" "run_dir = /var/lib/exed/run" conf "${conf}")
string(REPLACE "workdir = etc/ansible" "workdir = /etc/exed/ansible" conf "${conf}")
string(REPLACE ";dirs = /usr/local/lib/exed/plugins" ";dirs = /usr/lib/exed/plugins" conf "${conf}")
file(WRITE ${CMAKE_BINARY_DIR}/packaging/exe.conf "${conf}")

# System files go to absolute paths; exe.conf only when there is none yet,
# so `make install` never overwrites an admin's config (dpkg handles the
# .deb's as a conffile).
install(CODE "
  if(NOT EXISTS \"\$ENV{DESTDIR}/etc/exed/exe.conf\")
    file(INSTALL \"${CMAKE_BINARY_DIR}/packaging/exe.conf\" DESTINATION \"/etc/exed\")
  endif()")
install(FILES ${CMAKE_SOURCE_DIR}/etc/ansible/inventory DESTINATION /etc/exed/ansible)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/etc/ansible/playbooks DESTINATION /etc/exed/ansible)
install(FILES ${CMAKE_SOURCE_DIR}/etc/exed.service ${CMAKE_SOURCE_DIR}/etc/exed-worker@.service
              ${CMAKE_SOURCE_DIR}/etc/exed-agent.service
        DESTINATION /lib/systemd/system)
# The agent's configuration, to copy to /etc/exed/agent.conf on a node
# (docs/agent.md); not a conffile: most hosts of the package run no agent.
install(FILES ${CMAKE_SOURCE_DIR}/etc/agent.conf DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/exed RENAME agent.conf.example)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME exed)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "exed maintainers <exed@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "remote-execution daemon: a REST API over Ansible and Salt")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)  # with SET_DESTDIR: relative destinations land under /usr
set(CPACK_STRIP_FILES ON)
set(CPACK_SET_DESTDIR ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # exed_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # libpoco*, libfmt, libstdc++ from the binaries
# adduser: postinst; redis-server: the embedded redis (or a shared one);
# ansible-core + ssh client: the default executor; python3: its modules.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, redis-server, ansible-core, openssh-client, python3")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "facter")
file(WRITE ${CMAKE_BINARY_DIR}/packaging/conffiles "/etc/exed/exe.conf\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/packaging/conffiles
    ${CMAKE_SOURCE_DIR}/packaging/deb/postinst
    ${CMAKE_SOURCE_DIR}/packaging/deb/prerm
    ${CMAKE_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/deb)
include(CPack)

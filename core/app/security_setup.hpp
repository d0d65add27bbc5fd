// Start-up steps of issue 15 kept out of exed_app.cpp: file modes whatever
// the umask, the security settings and the refusal to serve a network
// without tokens.
#pragma once

#include "config.hpp"
#include "http/security/security.hpp"
#include "http/security/settings.hpp"
#include "jobs/audit_stream.hpp"
#include "shovey/routes.hpp"

namespace exed::app {

// umask gains 027 (files 0640, dirs 0750 at most: the AOF, logs, keys and
// everything the executors write), and run_dir becomes 0700.
void tighten_umask();
void private_run_dir(const Settings& s);
// Existing log files made under an older, looser umask become 0640.
void restrict_log_files(const Settings& s);

// Reads the security keys; prints one line and returns 78 when they are
// wrong or exed must not start (non-loopback listen without tokens), else 0.
int load_security(const Settings& s, http::security::SecuritySettings& out);

// The Shovey face's access rules from the tokens: a change needs the run
// scope and every node within the token's patterns; reads show only jobs
// and nodes within them.
shovey::Access shovey_access(http::security::Security& security);

// The audit trail's Redis copy behind the face's AuditStore interface.
http::security::AuditStore audit_store(jobs::AuditStream& stream);

}  // namespace exed::app

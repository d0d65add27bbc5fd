#include "shovey/face.hpp"

#include "shovey/routes.hpp"

namespace exed::shovey {

Face::Face(Config config, const Settings& settings, redis::Pool& pool, operate::Submitter& submitter,
           operate::JobService& jobs, plugins::ExecutorClient& client, http::Router& router,
           const std::string& name, Access access)
    : config_(std::move(config)),
      access_(std::move(access)),
      store_(pool),
      adapter_(submitter, jobs, client),
      service_(config_, settings, store_, adapter_),
      checker_(config_, store_, adapter_, name) {
    add_routes(router, service_, access_);
    // Node checks ping the whole inventory: only once Shovey is put to use
    // (a command is configured), never as a side effect of upgrading exed.
    if (!config_.commands.empty()) checker_.start();
}

Face::~Face() { checker_.stop(); }

}  // namespace exed::shovey

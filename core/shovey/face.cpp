#include "shovey/face.hpp"

#include "shovey/routes.hpp"

namespace exed::shovey {

Face::Face(Config config, const Settings& settings, redis::Pool& pool, operate::Submitter& submitter,
           jobs::Store& jobs, http::Router& router, const std::string& name)
    : config_(std::move(config)),
      store_(pool),
      adapter_(submitter, jobs),
      service_(config_, settings, store_, adapter_),
      checker_(config_, store_, adapter_, name) {
    add_routes(router, service_);
    checker_.start();
}

Face::~Face() { checker_.stop(); }

}  // namespace exed::shovey

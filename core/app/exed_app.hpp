// The exed program: `exed [-c exe.conf] [-d]` serves the REST API with
// in-process workers; `exed worker --exe-conf exe.conf` only runs jobs.
#pragma once

#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include <string>

namespace exed::http::security {
struct SecuritySettings;
}
namespace exed::shovey {
struct Config;
}

namespace exed::app {

class ExedApp : public Poco::Util::ServerApplication {
public:
    // The directory exed was started in (daemonizing may change it).
    static std::string& start_dir();

protected:
    void defineOptions(Poco::Util::OptionSet& options) override;
    void handleOption(const std::string& name, const std::string& value) override;
    int main(const std::vector<std::string>& args) override;

private:
    struct Core;  // the store, plugins and runner both faces run on (exed_app.cpp)

    void print_help();
    int serve(bool worker_only);
    // The API face on `core`, until a termination request; its exit code.
    int serve_api(Core& core, const http::security::SecuritySettings& security_settings,
                  const shovey::Config& shovey_config);

    bool stop_early_ = false;
    std::string conf_;
    std::string exe_conf_;
    std::string token_scopes_, token_targets_;  // exed token
};

}  // namespace exed::app

// The exed program: `exed [-c exe.conf] [-d]` serves the REST API with
// in-process workers; `exed worker --exe-conf exe.conf` only runs jobs.
#pragma once

#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include <string>

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
    void print_help();
    int serve(bool worker_only);

    bool stop_early_ = false;
    std::string conf_;
    std::string exe_conf_;
    std::string token_scopes_, token_targets_;  // exed token
};

}  // namespace exed::app

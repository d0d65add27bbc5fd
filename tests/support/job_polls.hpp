// Reading a job's record by polling GET /jobs/<jid>, as the core suites do.
#pragma once

#include "support/http_client.hpp"

#include <chrono>
#include <string>
#include <thread>

namespace exed::test {

// A string field of the job's record; "" when it cannot be read.
inline std::string job_field(int port, const std::string& jid, const std::string& field) {
    auto r = http("GET", port, "/jobs/" + jid);
    if (r.status != 200) return "";
    return r.object()->optValue<std::string>(field, "");
}

// Waits until the job is no longer queued or running; its status.
inline std::string wait_ended(int port, const std::string& jid, int seconds) {
    std::string st;
    for (int i = 0; i < seconds * 10; ++i) {
        st = job_field(port, jid, "status");
        if (!st.empty() && st != "queued" && st != "running") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return st;
}

// Waits until the job's status is `want`; the last status read.
inline std::string wait_for_status(int port, const std::string& jid, const std::string& want, int seconds) {
    std::string st;
    for (int i = 0; i < seconds * 10 && st != want; ++i) {
        st = job_field(port, jid, "status");
        if (st != want) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return st;
}

}  // namespace exed::test

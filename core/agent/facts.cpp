#include "agent/facts.hpp"

#include "agent/child_process.hpp"

#include <Poco/Environment.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/NetworkInterface.h>

#include <fstream>
#include <thread>

#include <sys/utsname.h>
#include <unistd.h>

namespace exed::agent {

namespace {

std::string os_release_value(const std::string& key) {
    std::ifstream in("/etc/os-release");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key + "=", 0) != 0) continue;
        std::string v = line.substr(key.size() + 1);
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        return v;
    }
    return "";
}

long meminfo_kb(const std::string& key) {
    std::ifstream in("/proc/meminfo");
    std::string name;
    long kb = 0;
    std::string unit;
    while (in >> name >> kb >> unit)
        if (name == key + ":") return kb;
    return 0;
}

Poco::JSON::Object::Ptr from_facter() {
    bool installed = access("/usr/bin/facter", X_OK) == 0 || access("/usr/local/bin/facter", X_OK) == 0;
    if (!installed) return nullptr;
    std::string text;
    std::atomic<bool> never{false};
    auto r = run_child({"facter", "--json"}, 60, 2, never, [&](const std::string& stream, const std::string& d) {
        if (stream == "stdout") text += d;
    });
    if (r.exit_code != 0) return nullptr;
    try {
        return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception&) {
        return nullptr;
    }
}

}  // namespace

Poco::JSON::Object::Ptr node_facts() {
    if (auto f = from_facter()) return f;
    Poco::JSON::Object::Ptr f = new Poco::JSON::Object;
    utsname u{};
    uname(&u);
    f->set("hostname", std::string(u.nodename));
    f->set("kernel", std::string(u.sysname));
    f->set("kernelrelease", std::string(u.release));
    f->set("architecture", std::string(u.machine));
    f->set("os", os_release_value("ID"));
    f->set("operatingsystemrelease", os_release_value("VERSION_ID"));
    f->set("processorcount", int(std::thread::hardware_concurrency()));
    f->set("memorysize_mb", meminfo_kb("MemTotal") / 1024);
    f->set("memoryfree_mb", meminfo_kb("MemAvailable") / 1024);
    Poco::JSON::Array::Ptr addresses = new Poco::JSON::Array;
    try {
        for (auto& nic : Poco::Net::NetworkInterface::list(false, false))
            addresses->add(nic.address().toString());
    } catch (const Poco::Exception&) {
    }
    f->set("addresses", addresses);
    f->set("source", std::string("exed-agent"));
    return f;
}

}  // namespace exed::agent

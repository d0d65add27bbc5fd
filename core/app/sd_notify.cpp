#include "app/sd_notify.hpp"

#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/Net/DatagramSocket.h>
#include <Poco/Net/SocketAddress.h>

namespace exed::app {

bool sd_notify(const std::string& state) {
    std::string path = Poco::Environment::get("NOTIFY_SOCKET", "");
    if (path.empty()) return false;
    auto& log = Poco::Logger::get("exed");
    if (path[0] == '@') {
        log.warning("NOTIFY_SOCKET " + path + " is an abstract socket name: not supported, readiness not sent");
        return false;
    }
    try {
        Poco::Net::DatagramSocket socket(Poco::Net::SocketAddress::UNIX_LOCAL);
        Poco::Net::SocketAddress to(Poco::Net::SocketAddress::UNIX_LOCAL, path);
        return socket.sendTo(state.data(), int(state.size()), to) == int(state.size());
    } catch (const Poco::Exception& e) {
        log.warning("cannot notify systemd at " + path + ": " + e.displayText());
        return false;
    }
}

}  // namespace exed::app

// The agent connection's gated socket (executors/agent/gated_socket.cpp,
// both ends link it): what says a frame is whole, and a socket that never waits.
// A real socketpair stands for the connection to exed.
#include "gated_socket.hpp"

#include <Poco/Net/StreamSocketImpl.h>

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include <sys/socket.h>
#include <unistd.h>

using exed::agent_wire::GatedSocketImpl;
using exed::agent_wire::whole_frame_bytes;

namespace {

std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int c : b) s += char(c);
    return s;
}

}  // namespace

TEST_CASE("whole_frame_bytes: a frame's size from its header's length field, 0 while the header is incomplete") {
    uint64_t payload = 0;
    CHECK(whole_frame_bytes(bytes({0x81}), payload) == 0);
    CHECK(whole_frame_bytes(bytes({0x81, 5}), payload) == 7);  // 7-bit length
    CHECK(payload == 5);
    CHECK(whole_frame_bytes(bytes({0x81, 0x80 | 5}), payload) == 11);  // + a 4-byte masking key
    CHECK(whole_frame_bytes(bytes({0x81, 126, 1}), payload) == 0);
    CHECK(whole_frame_bytes(bytes({0x81, 126, 1, 0}), payload) == 4 + 256);  // 16-bit length
    CHECK(whole_frame_bytes(bytes({0x81, 127, 0, 0, 0, 0, 5, 0xf5, 0xe1}), payload) == 0);
    // The 100 MB header (64-bit length, masked).
    CHECK(whole_frame_bytes(bytes({0x81, 0x80 | 127, 0, 0, 0, 0, 5, 0xf5, 0xe1, 0}), payload) == 14 + 100000000);
    CHECK(payload == 100000000);
    // A length that would overflow the sum is reported as the largest size.
    CHECK(whole_frame_bytes(bytes({0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), payload) ==
          UINT64_MAX);
}

TEST_CASE("GatedSocketImpl: pull takes what is there without waiting; reads come from the buffer only") {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    Poco::Net::StreamSocket real(new Poco::Net::StreamSocketImpl(fds[0]));
    auto* gate = new GatedSocketImpl(real);
    Poco::Net::StreamSocket gated(gate);
    char buf[16];

    auto t0 = std::chrono::steady_clock::now();
    CHECK(gate->pull(1024) == GatedSocketImpl::Pulled::none);  // nothing sent: returns at once
    CHECK(gated.receiveBytes(buf, sizeof buf) == 0);           // and Poco's read does not wait either
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));

    REQUIRE(::write(fds[1], "abcdef", 6) == 6);
    CHECK(gate->pull(4) == GatedSocketImpl::Pulled::some);  // at most the cap
    CHECK(gate->unread() == "abcd");
    CHECK(gated.available() == 4);
    CHECK(gated.receiveBytes(buf, 3) == 3);
    CHECK(std::string(buf, 3) == "abc");
    CHECK(gate->pull(1024) == GatedSocketImpl::Pulled::some);
    CHECK(gate->unread() == "def");

    ::close(fds[1]);
    CHECK(gate->pull(1024) == GatedSocketImpl::Pulled::eof);
    CHECK(gated.receiveBytes(buf, sizeof buf) == 3);  // what came before the close is still served
    CHECK(gated.receiveBytes(buf, sizeof buf) == 0);
}

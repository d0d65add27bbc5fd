// The node registry (core/nodes) against a real redis-server: a name is
// bound to the first key that proves itself for it, states change only
// for recorded names, and the fingerprint is the documented one (openssl).
#include "nodes/fingerprint.hpp"
#include "nodes/registry.hpp"
#include "support/fixtures.hpp"

#include <Poco/Crypto/ECKey.h>
#include <Poco/Crypto/RSAKey.h>

#include <doctest/doctest.h>

#include <cstdio>
#include <sstream>

using namespace exed;
using namespace exed::test;

namespace {

std::string new_public_pem(const std::string& curve = "prime256v1") {
    Poco::Crypto::ECKey key(curve);
    std::ostringstream pub;
    key.save(&pub, nullptr);
    return pub.str();
}

std::string openssl_fingerprint(const TempDir& dir, const std::string& pem) {
    std::string file = dir.write("key.pub.pem", pem);
    std::string out;
    FILE* p = popen(("openssl pkey -pubin -in " + file + " -outform DER | openssl dgst -sha256 -binary | base64 -w0")
                        .c_str(), "r");
    char buf[256];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    pclose(p);
    while (!out.empty() && (out.back() == '=' || out.back() == '\n')) out.pop_back();
    return "SHA256:" + out;
}

}  // namespace

TEST_CASE("node registry: the first key proven for a name is pending and pinned, another key is a mismatch") {
    SharedRedis redis;
    auto pool = redis.pool();
    nodes::Registry reg(*pool, false);
    std::string k1 = new_public_pem(), k2 = new_public_pem(), fp;

    CHECK(reg.present("web1", k1, fp) == nodes::Verdict::pending);
    CHECK(fp == openssl_fingerprint(redis.dir, k1));
    CHECK(reg.present("web1", k1, fp) == nodes::Verdict::pending);
    CHECK(reg.present("web1", k2, fp) == nodes::Verdict::mismatch);
    REQUIRE(reg.set_state("web1", "accepted"));
    CHECK(reg.present("web1", k1, fp) == nodes::Verdict::accepted);
    CHECK(reg.present("web1", k2, fp) == nodes::Verdict::mismatch);
    REQUIRE(reg.set_state("web1", "rejected"));
    CHECK(reg.present("web1", k1, fp) == nodes::Verdict::rejected);
    CHECK(reg.present("web1", k2, fp) == nodes::Verdict::mismatch);

    // Deleting frees the name for the next key.
    CHECK(reg.remove("web1"));
    CHECK_FALSE(reg.remove("web1"));
    CHECK_FALSE(reg.get("web1"));
    CHECK(reg.present("web1", k2, fp) == nodes::Verdict::pending);
    CHECK(reg.get("web1")->fingerprint == openssl_fingerprint(redis.dir, k2));

    CHECK_FALSE(reg.set_state("nosuch", "accepted"));
    CHECK(reg.present("db", k1, fp) == nodes::Verdict::pending);
    auto all = reg.list();
    REQUIRE(all.size() == 2);
    CHECK(all[0].name == "db");
    CHECK(all[1].name == "web1");
    CHECK(all[1].state == "pending");
    CHECK(all[1].first_seen > 0);
}

TEST_CASE("node registry: its version moves with every change of a key or state, and only then") {
    SharedRedis redis;
    auto pool = redis.pool();
    nodes::Registry reg(*pool, false);
    std::string k1 = new_public_pem(), k2 = new_public_pem(), fp;
    int64_t v = reg.version();
    auto moved = [&] {
        int64_t now = reg.version();
        bool changed = now != v;
        v = now;
        return changed;
    };
    reg.present("web1", k1, fp);
    CHECK(moved());  // a new record
    reg.present("web1", k1, fp);
    CHECK_FALSE(moved());  // seen again: last_seen only
    reg.present("web1", k2, fp);
    CHECK_FALSE(moved());  // a mismatch records nothing
    REQUIRE(reg.set_state("web1", "accepted"));
    CHECK(moved());
    reg.present("web1", k1, fp);
    CHECK_FALSE(moved());
    REQUIRE(reg.remove("web1"));
    CHECK(moved());
    nodes::Registry lab(*pool, true);  // auto_accept
    lab.present("lab1", k1, fp);
    CHECK(moved());
}

TEST_CASE("node registry: auto_accept accepts the first key and pins it") {
    SharedRedis redis;
    auto pool = redis.pool();
    nodes::Registry reg(*pool, true);
    std::string k1 = new_public_pem(), k2 = new_public_pem(), fp;
    CHECK(reg.present("web1", k1, fp) == nodes::Verdict::accepted);
    CHECK(reg.present("web1", k2, fp) == nodes::Verdict::mismatch);
    CHECK(reg.get("web1")->fingerprint == openssl_fingerprint(redis.dir, k1));
}

TEST_CASE("node registry: only P-256 public keys are node keys") {
    SharedRedis redis;
    auto pool = redis.pool();
    nodes::Registry reg(*pool, true);
    std::string fp;
    CHECK_THROWS_AS(reg.present("web1", "not a key", fp), nodes::BadKey);
    CHECK_THROWS_AS(reg.present("web1", new_public_pem("secp384r1"), fp), nodes::BadKey);
    Poco::Crypto::RSAKey rsa(Poco::Crypto::RSAKey::KL_1024, Poco::Crypto::RSAKey::EXP_SMALL);
    std::ostringstream pub;
    rsa.save(&pub);
    CHECK_THROWS_AS(reg.present("web1", pub.str(), fp), nodes::BadKey);
    CHECK(reg.list().empty());
    CHECK(nodes::valid_node_name("web-1.example_x"));
    CHECK_FALSE(nodes::valid_node_name("-web"));
    CHECK_FALSE(nodes::valid_node_name("a/b"));
    CHECK_FALSE(nodes::valid_node_name(""));
}

// The loader against real .so files: a good plugin loads and runs; each
// deliberately broken one is refused with a reason naming the file.
#include "plugins/registry.hpp"
#include "support/recording_hooks.hpp"

#include <doctest/doctest.h>

#include <string>

using exed::plugins::Registry;

namespace {
const std::string dir = EXED_TEST_PLUGIN_DIR;

std::string reason_for(const Registry& r, const std::string& file) {
    for (auto& refusal : r.refusals())
        if (refusal.path.find(file) != std::string::npos) return refusal.reason;
    return "(not refused)";
}
}  // namespace

TEST_CASE("a good plugin loads, reports its descriptor and runs an operation") {
    Registry reg([](const std::string& type) {
        return type == "test" ? std::string(R"({"hosts":"a1,a2,b1"})") : std::string("{}");
    });
    reg.load_dirs({dir + "/good"});
    REQUIRE(reg.refusals().empty());
    auto p = reg.find("executor", "test");
    REQUIRE(p);
    CHECK(p->info().name == "test_executor");
    CHECK(p->info().abi_major == EXED_ABI_MAJOR);
    exed::test::RecordingHooks hooks;
    auto r = p->invoke("targets", R"({"pattern":"a*"})", hooks);
    REQUIRE(r.ok());
    CHECK(r.result == R"(["a1","a2"])");
    r = p->invoke("ping", R"({"targets":["a1","b1"]})", hooks);
    REQUIRE(r.ok());
    CHECK(hooks.snapshot().size() == 2);
    CHECK(r.result == R"({"a1":{"status":0},"b1":{"status":0}})");
}

TEST_CASE("exceptions in a plugin become status codes, never crashes") {
    Registry reg;
    reg.load_dirs({dir + "/good"});
    auto p = reg.find("executor", "test");
    REQUIRE(p);
    auto c = p->check("execute", R"({"targets":["a"]})");
    CHECK(c.status == EXED_ERR_BAD_INPUT);
    CHECK(c.error == "cmd is required");
    c = p->check("deploy", R"({"role":"missing"})");
    CHECK(c.status == EXED_ERR_NOT_FOUND);
    exed::test::RecordingHooks hooks;
    auto r = p->invoke("ping", "this is not json", hooks);
    CHECK(r.status == EXED_ERR);
    CHECK(!r.error.empty());
    r = p->invoke("release", "{}", hooks);
    CHECK(r.status == EXED_ERR_UNSUPPORTED);
}

TEST_CASE("an executor process is tracked while it runs and cancel stops the op") {
    Registry reg;
    reg.load_dirs({dir + "/good"});
    auto p = reg.find("executor", "test");
    REQUIRE(p);
    exed::test::RecordingHooks hooks;
    auto r = p->invoke("execute", R"({"targets":["node1"],"cmd":"echo hi there"})", hooks);
    REQUIRE(r.ok());
    CHECK(r.result == R"({"node1":{"rtc":0,"status":4,"stderr":"","stdout":"hi there\n"}})");
    CHECK(hooks.ever_tracked.size() == 1);
    CHECK(hooks.tracked.empty());
    hooks.cancel = true;
    r = p->invoke("execute", R"({"targets":["node1"],"cmd":"true"})", hooks);
    CHECK(r.status == EXED_ERR_CANCELLED);
}

TEST_CASE("every broken plugin is refused with a clear reason and the rest still load") {
    Registry reg;
    reg.load_dirs({dir + "/broken", dir + "/good", dir + "/dup"});
    CHECK(reason_for(reg, "broken_abi_major.so").find("incompatible ABI: plugin 2.0, host 1.4") !=
          std::string::npos);
    CHECK(reason_for(reg, "broken_abi_minor.so").find("incompatible ABI: plugin 1.5, host 1.4") !=
          std::string::npos);
    CHECK(reason_for(reg, "broken_no_entry.so").find("missing entry point exed_plugin_entry") !=
          std::string::npos);
    CHECK(reason_for(reg, "broken_kind.so").find("unknown kind 'transmogrifier'") !=
          std::string::npos);
    CHECK(reason_for(reg, "broken_init.so") ==
          "init failed: database of widgets is unreachable");
    CHECK(reason_for(reg, "broken_missing_op.so") == "executor lacks required operation execute");
    CHECK(reason_for(reg, "test_executor_dup.so").find("duplicate executor type 'test'") !=
          std::string::npos);
    CHECK(reason_for(reg, "broken_short_table.so") ==
          "ops table too small: struct_size " + std::to_string(offsetof(exed_ops, release)) + " < " +
              std::to_string(offsetof(exed_ops, revision) + sizeof(exed_op_fn)) + " (ABI 1.0's table)");
    CHECK(reason_for(reg, "broken_secret_args.so") ==
          "secret_args: 'extra_opts..token' is not a dotted argument path (1-128 of [A-Za-z0-9_.-])");
    CHECK(reg.refusals().size() == 9);
    // What was good is there and works.
    CHECK(reg.find("executor", "test"));
    CHECK(reg.list().size() == 1);
}

TEST_CASE("SDK 1.1 ops come from an intermediate base class and an unimplemented op is unsupported") {
    Registry reg;
    reg.load_dirs({dir + "/partial"});
    REQUIRE(reg.refusals().empty());
    auto p = reg.find("executor", "partial");
    REQUIRE(p);
    CHECK(p->info().abi_minor == 1);  // built against the SDK 1.1 headers as released (tests/sdk-1.1)
    exed::test::RecordingHooks hooks;
    auto r = p->invoke("ping", R"({"targets":["p1"]})", hooks);  // from the base class
    REQUIRE(r.ok());
    CHECK(r.result == R"({"p1":{"status":0}})");
    CHECK(p->has_op("execute"));
    for (const char* op : {"facter", "service", "deploy"}) {
        CAPTURE(op);
        CHECK_FALSE(p->has_op(op));
        r = p->invoke(op, R"({"targets":["p1"]})", hooks);
        CHECK(r.status == EXED_ERR_UNSUPPORTED);
        CHECK(r.error == "plugin 'partial' does not support operation '" + std::string(op) + "'");
    }
}

TEST_CASE("a file that is not a shared library is refused") {
    Registry reg;
    CHECK_FALSE(reg.load_file(std::string(EXED_SOURCE_DIR) + "/CMakeLists.txt"));
    REQUIRE(reg.refusals().size() == 1);
    CHECK(reg.refusals()[0].reason.rfind("cannot load:", 0) == 0);
}

// TEST PLUGINS — each build of this file is broken in one way (chosen by a
// BROKEN_* define) so the loader tests can prove every refusal is clean.
// Written against the raw C ABI on purpose: sdk.hpp would not let us break it.
#include <exed/sdk.h>

#include <cstddef>

namespace {

int op_ok(void*, exed_call*, const char*) { return EXED_OK; }

#ifdef BROKEN_INIT
int init_fail(const exed_host_api* host, exed_call* call, const char*, void**) {
    host->set_error(call, "database of widgets is unreachable");
    return EXED_ERR;
}
#else
int init_ok(const exed_host_api*, exed_call*, const char*, void** state) {
    *state = nullptr;
    return EXED_OK;
}
#endif

void fini(void*) {}

exed_ops make_ops() {
    exed_ops ops{};
    ops.struct_size = sizeof(exed_ops);
#ifdef BROKEN_INIT
    ops.init = &init_fail;
#else
    ops.init = &init_ok;
#endif
    ops.fini = &fini;
    ops.targets = &op_ok;
    ops.ping = &op_ok;
    ops.facter = &op_ok;
    ops.service = &op_ok;
#ifndef BROKEN_MISSING_OP
    ops.execute = &op_ok;
#endif
    ops.deploy = &op_ok;
#ifdef BROKEN_SHORT_TABLE
    // Claims ABI 1.0 with a table that ends before 1.0's did (no releaser
    // slots): no 1.x header makes that; the host must refuse it from
    // struct_size alone, without reading past it.
    ops.struct_size = offsetof(exed_ops, release);
#endif
    return ops;
}

const exed_ops ops = make_ops();

#if defined(BROKEN_ABI_MAJOR)
const exed_plugin_desc desc = {sizeof(exed_plugin_desc), EXED_ABI_MAJOR + 1, 0, "executor",
                               "broken-major", "broken", "1.0", &ops};
#elif defined(BROKEN_ABI_MINOR)
const exed_plugin_desc desc = {sizeof(exed_plugin_desc), EXED_ABI_MAJOR, EXED_ABI_MINOR + 1,
                               "executor", "broken-minor", "broken", "1.0", &ops};
#elif defined(BROKEN_KIND)
const exed_plugin_desc desc = {sizeof(exed_plugin_desc), EXED_ABI_MAJOR, EXED_ABI_MINOR,
                               "transmogrifier", "broken-kind", "broken", "1.0", &ops};
#elif defined(BROKEN_INIT)
const exed_plugin_desc desc = {sizeof(exed_plugin_desc), EXED_ABI_MAJOR, EXED_ABI_MINOR,
                               "executor", "broken-init", "broken", "1.0", &ops};
#elif defined(BROKEN_MISSING_OP)
// ABI 1.0 had no "unsupported" slot: a 1.0 executor must fill all of them.
const exed_plugin_desc desc = {sizeof(exed_plugin_desc), EXED_ABI_MAJOR, 0,
                               "executor", "broken-missing-op", "broken", "1.0", &ops};
#elif defined(BROKEN_SECRET_ARGS)
// SDK 1.2: a secret argument path that is not one (an empty segment).
const char* const secrets[] = {"password", "extra_opts..token", nullptr};
const exed_plugin_desc desc = {sizeof(exed_plugin_desc), EXED_ABI_MAJOR, EXED_ABI_MINOR, "executor",
                               "broken-secret-args", "broken", "1.0", &ops, secrets};
#elif defined(BROKEN_SHORT_TABLE)
const exed_plugin_desc desc = {sizeof(exed_plugin_desc), EXED_ABI_MAJOR, 0, "executor",
                               "short-table", "broken", "1.0", &ops};
#endif

}  // namespace

#ifndef BROKEN_NO_ENTRY
extern "C" __attribute__((visibility("default"))) const exed_plugin_desc* exed_plugin_entry(void) {
    return &desc;
}
#else
// Exports something, just not the entry point.
extern "C" __attribute__((visibility("default"))) int exed_plugin_entri(void) { return 0; }
#endif

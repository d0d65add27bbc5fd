#include "salt_results.hpp"

#include "salt_messages.hpp"

#include <exed/sdk.h>

#include <algorithm>
#include <utility>

namespace exed::salt {

Object::Ptr status_result(int status) {
    Object::Ptr r = new Object;
    r->set("status", status);
    return r;
}

Object::Ptr error_result(int status, const std::string& error) {
    Object::Ptr r = status_result(status);
    r->set("error", error);
    return r;
}

Object::Ptr unreachable_result(const MinionOutcome& o) {
    return error_result(Unreachable, o.error.empty() ? "minion did not return" : o.error);
}

std::string salt_error_text(const Var& v) {
    if (v.isString()) return without_command_context(v.toString());
    auto list = string_list(v);
    if (auto arr = as_array(v); arr && !list.empty() && list.size() == arr->size()) {
        std::string out;
        for (auto& s : list) out += (out.empty() ? "" : "; ") + without_command_context(s);
        return out;
    }
    return "";
}

namespace {

// The error of a return that is not the expected structure.
std::string unexpected(const Var& v, const std::string& what) {
    std::string text = salt_error_text(v);
    return text.empty() ? what + " returned " + (v.isEmpty() ? "nothing" : to_json(v)) : text;
}

}  // namespace

Object::Ptr ping_result(const MinionOutcome& o) {
    if (!o.returned) return unreachable_result(o);
    if (o.value.isBoolean() && o.value.extract<bool>()) return status_result(OK);
    return error_result(Failed, unexpected(o.value, "test.ping"));
}

Object::Ptr facter_result(const MinionOutcome& o) {
    Object::Ptr r;
    if (!o.returned) {
        r = unreachable_result(o);
    } else if (auto grains = as_object(o.value)) {
        r = status_result(OK);
        r->set(EXED_KEY_FACTS, grains);
    } else {
        r = error_result(Failed, unexpected(o.value, "grains.items"));
    }
    r->set("state", r->get("status"));
    return r;
}

Object::Ptr execute_result(const MinionOutcome& o) {
    if (!o.returned) return unreachable_result(o);
    Object::Ptr r = new Object;
    if (auto run = as_object(o.value); run && run->has("retcode")) {
        int rtc = run->optValue<int>("retcode", 1);
        r->set("status", int(rtc == 0 ? Changed : Failed));
        r->set("rtc", rtc);
        r->set("stdout", run->optValue<std::string>("stdout", ""));
        r->set("stderr", run->optValue<std::string>("stderr", ""));
        return r;
    }
    // cmd.run_all could not even start the command: Salt says why in a string.
    std::string error = unexpected(o.value, "cmd.run_all");
    int rtc = o.has_retcode && o.retcode != 0 ? o.retcode : 1;
    r->set("status", int(Failed));
    r->set("rtc", rtc);
    r->set("stdout", std::string());
    r->set("stderr", error);
    r->set("error", error);
    return r;
}

StateApplyResult state_apply_result(const MinionOutcome& o) {
    StateApplyResult out;
    if (!o.returned) {
        out.summary = unreachable_result(o);
        return out;
    }
    auto states = as_object(o.value);
    if (!states) {  // e.g. ["No matching sls found for 'x' in env 'base'"]
        out.summary = error_result(Failed, unexpected(o.value, "state.apply"));
        return out;
    }
    // Salt keys states "<module>_|-<id>_|-<name>_|-<fun>"; __run_num__ is the order.
    std::vector<std::pair<int, std::string>> order;
    for (auto& [key, _] : *states) {
        auto st = as_object(states->get(key));
        order.emplace_back(st ? st->optValue<int>("__run_num__", 0) : 0, key);
    }
    std::sort(order.begin(), order.end());
    int failed = 0, changed = 0;
    std::string first_error;
    for (auto& [_, key] : order) {
        auto st = as_object(states->get(key));
        if (!st) continue;
        std::string name = st->optValue<std::string>("__id__", "");
        if (name.empty()) {
            auto a = key.find("_|-");
            auto b = a == std::string::npos ? a : key.find("_|-", a + 3);
            name = b == std::string::npos ? key : key.substr(a + 3, b - a - 3);
        }
        Var result = st->get("result");
        auto changes = as_object(st->get("changes"));
        int status = OK;
        if (result.isBoolean() && !result.extract<bool>()) {
            status = Failed;
            ++failed;
            if (first_error.empty())
                first_error = name + ": " + st->optValue<std::string>("comment", "failed");
        } else if (changes && changes->size() > 0) {
            status = Changed;
            ++changed;
        }
        Object::Ptr ev = status_result(status);
        ev->set("name", name);
        ev->set("return_data", st);
        out.states.push_back(ev);
    }
    // A non-zero retcode without a failed state still is a failure (e.g. a
    // requisite error reported outside the states).
    if (failed == 0 && o.has_retcode && o.retcode != 0) {
        ++failed;
        first_error = "state.apply ended with retcode " + std::to_string(o.retcode);
    }
    out.summary = failed ? error_result(Failed, first_error)
                         : status_result(changed ? Changed : OK);
    out.summary->set("states", int(out.states.size()));
    out.summary->set("changed", changed);
    out.summary->set("failed", failed);
    return out;
}

}  // namespace exed::salt

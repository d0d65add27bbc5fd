#include "http/security/redact.hpp"

#include <Poco/StringTokenizer.h>
#include <Poco/URI.h>

namespace exed::http::security {

namespace {

const std::string kMask = "***";

void mask_path(Poco::JSON::Object::Ptr obj, const std::vector<std::string>& path, size_t at) {
    if (!obj || at >= path.size() || !obj->has(path[at])) return;
    if (at + 1 == path.size()) {
        auto inner = obj->getObject(path[at]);
        if (inner) {  // an object of secrets: keep the keys, hide every value
            std::vector<std::string> names;
            inner->getNames(names);
            for (const auto& n : names) inner->set(n, kMask);
        } else {
            obj->set(path[at], kMask);
        }
        return;
    }
    mask_path(obj->getObject(path[at]), path, at + 1);
}

}  // namespace

Redactor::Redactor(std::vector<std::string> extra_paths) : paths_(std::make_shared<const Paths>()) {
    extra_paths.insert(extra_paths.begin(), "extra_vars");
    add(extra_paths);
}

void Redactor::add(const std::vector<std::string>& extra_paths) {
    auto next = std::make_shared<Paths>(*paths());
    for (const auto& p : extra_paths) {
        Poco::StringTokenizer t(p, ".", Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
        if (t.count()) next->emplace_back(t.begin(), t.end());
        // execute's argv is split from cmd (operate/command_line.hpp): a
        // secret cmd reads back in its words otherwise.
        if (t.count() == 1 && *t.begin() == "cmd") next->push_back({"argv"});
    }
    std::atomic_store(&paths_, std::shared_ptr<const Paths>(std::move(next)));
}

void Redactor::args(Poco::JSON::Object::Ptr args) const {
    for (const auto& p : *paths()) mask_path(args, p, 0);
}

std::string Redactor::uri(const std::string& text) const {
    if (text.find('?') == std::string::npos) return text;
    try {
        Poco::URI u(text);
        auto params = u.getQueryParameters();
        bool masked = false;
        auto all = paths();
        for (auto& [name, value] : params)
            for (const auto& p : *all)
                if (p.size() == 1 && p[0] == name) value = kMask, masked = true;
        if (!masked) return text;
        u.setQueryParameters(params);
        return u.toString();
    } catch (const Poco::Exception&) {
        return text.substr(0, text.find('?')) + "?***";  // unparsable: keep no query at all
    }
}

void Redactor::job(Poco::JSON::Object::Ptr record) const {
    if (record) args(record->getObject("operate_args"));
}

}  // namespace exed::http::security

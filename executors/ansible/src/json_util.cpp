#include "json_util.hpp"

#include <exed/sdk.hpp>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <sstream>

namespace exed::ansible {

std::string to_json(const Poco::Dynamic::Var& value) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(value, out);
    return out.str();
}

Object::Ptr parse_object(const std::string& json, const std::string& what) {
    Poco::Dynamic::Var parsed;
    try {
        parsed = Poco::JSON::Parser().parse(json);
    } catch (const Poco::Exception& e) {
        throw exed::BadInput(what + " are not valid JSON: " + e.displayText());
    }
    if (parsed.type() != typeid(Object::Ptr)) throw exed::BadInput(what + " must be a JSON object");
    return parsed.extract<Object::Ptr>();
}

std::string host_event(const std::string& host, const Object::Ptr& body) {
    Object event;
    event.set(host, body);
    return to_json(event);
}

}  // namespace exed::ansible

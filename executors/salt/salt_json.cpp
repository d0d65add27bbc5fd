#include "salt_json.hpp"

#include <exed/sdk.hpp>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <sstream>

namespace exed::salt {

Var parse_json(const std::string& text) {
    Poco::JSON::Parser parser;
    return parser.parse(text);
}

Object::Ptr parse_object(const std::string& text, const std::string& what) {
    Var v;
    try {
        v = parse_json(text);
    } catch (const Poco::Exception& e) {
        throw BadInput(what + " is not valid JSON: " + e.displayText());
    }
    auto obj = as_object(v);
    if (!obj) throw BadInput(what + " must be a JSON object");
    return obj;
}

std::string to_json(const Var& value) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(value, out);
    return out.str();
}

bool is_object(const Var& v) { return as_object(v) != nullptr; }
bool is_array(const Var& v) { return as_array(v) != nullptr; }

Object::Ptr as_object(const Var& v) {
    if (v.type() == typeid(Object::Ptr)) return v.extract<Object::Ptr>();
    return nullptr;
}

Array::Ptr as_array(const Var& v) {
    if (v.type() == typeid(Array::Ptr)) return v.extract<Array::Ptr>();
    return nullptr;
}

std::vector<std::string> string_list(const Var& v) {
    std::vector<std::string> out;
    if (auto arr = as_array(v))
        for (size_t i = 0; i < arr->size(); ++i)
            if (arr->get(i).isString()) out.push_back(arr->get(i).toString());
    return out;
}

Object::Ptr keyed(const std::string& key, const Var& value) {
    Object::Ptr o = new Object;
    o->set(key, value);
    return o;
}

}  // namespace exed::salt

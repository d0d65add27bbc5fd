#include "jobs/audit_stream.hpp"

#include "jobs/keys.hpp"

namespace exed::jobs {

void AuditStream::append(const std::string& line, int max_entries) {
    redis::Command xadd("XADD");
    xadd << keys::audit << "MAXLEN" << std::to_string(max_entries) << "*" << "entry" << line;
    pool_.run(xadd);
}

std::vector<std::pair<std::string, std::string>> AuditStream::recent(int limit) {
    redis::Command cmd("XREVRANGE");
    cmd << keys::audit << "+" << "-" << "COUNT" << std::to_string(limit);
    auto reply = pool_.run(cmd);
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& item : reply.items) {
        if (item.items.size() < 2) continue;
        const auto& fields = item.items[1].items;
        for (size_t i = 0; i + 1 < fields.size(); i += 2)
            if (fields[i].text() == "entry") out.emplace_back(item.items[0].text(), fields[i + 1].text());
    }
    return out;
}

}  // namespace exed::jobs

// The node registry (issue 24): which key each agent node name is bound
// to, and whether an operator accepted it -- exed's salt-key. Redis is the
// truth, so exed, its plugin host and the `exed node` CLI see one registry.
//
// Keys (docs/architecture.md): `exed:node:<name>` hash {state, public_key,
// fingerprint, first_seen, last_seen} (unix seconds) and `exed:nodes`, the
// set of names. A name is recorded the first time an agent proves it holds
// a key for it: `pending`, or `accepted` when [agent] auto_accept is on;
// from then on only that key (by fingerprint) may use the name, until an
// operator deletes the record.
#pragma once

#include "redis/pool.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace exed::nodes {

struct NodeRecord {
    std::string name;
    std::string state;  // pending | accepted | rejected
    std::string public_key;
    std::string fingerprint;
    int64_t first_seen = 0;
    int64_t last_seen = 0;
};

// What a connection presenting (name, key) may do.
enum class Verdict { accepted, pending, rejected, mismatch, full };
const char* verdict_name(Verdict v);

// Node names as the agent listener admits them.
bool valid_node_name(const std::string& name);

class Registry {
public:
    // Records beyond this are refused (`full`): the agent token lets anyone
    // who holds it invent names, and each costs a record.
    static constexpr int kMaxNodes = 100000;

    Registry(redis::Pool& pool, bool auto_accept) : pool_(pool), auto_accept_(auto_accept) {}

    // An agent proved it holds the private key of `public_key_pem` for
    // `name`. Records a new name; refreshes last_seen of a known one.
    // `fingerprint` is set to the key's. Throws BadKey (fingerprint.hpp).
    Verdict present(const std::string& name, const std::string& public_key_pem, std::string& fingerprint);

    std::vector<NodeRecord> list();  // sorted by name
    // Moves with every change of a key or state (0: none yet): whoever
    // keeps a copy of the list reads it again only when this moved.
    int64_t version();
    std::optional<NodeRecord> get(const std::string& name);
    // accept / reject: false when the name has no record.
    bool set_state(const std::string& name, const std::string& state);
    // Forgets the name and its key (the next key presented for it is new).
    bool remove(const std::string& name);
    bool auto_accept() const { return auto_accept_; }

private:
    redis::Pool& pool_;
    bool auto_accept_;
};

}  // namespace exed::nodes

// Records listed newest first: one hash per record, a zset index scored by
// a creation sequence (unique, so an exact pagination cursor; a time-based
// score ties within a millisecond), and the listing that drops the index
// entries of records that expired. The job store and the Shovey store both
// keep their records this way.
//
// The record and the index are on different hash slots (the record's key is
// tagged by its id, the index and its counter share one tag), so no step
// here is one script: each is a pipeline of steps that are safe to repeat.
// What a crash between two steps leaves is in docs/architecture.md.
#pragma once

#include "redis/pool.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace exed::jobs {

// Fields from an HGETALL-style flat array.
std::map<std::string, std::string> pairs_of(const redis::Reply& r);

class RecordIndex {
public:
    using KeyOf = std::function<std::string(const std::string& id)>;
    using Fields = std::vector<std::pair<std::string, std::string>>;

    struct Entry {
        std::string id;
        int64_t score = 0;
        std::map<std::string, std::string> fields;  // when listed with_fields
    };
    struct Listing {
        std::vector<Entry> entries;
        std::string next_cursor;  // empty on the last page
    };

    // index_key and seq_key must share a hash tag; record_key_of(id) names
    // the record's hash.
    RecordIndex(redis::Pool& pool, std::string index_key, std::string seq_key, KeyOf record_key_of)
        : pool_(pool), index_(std::move(index_key)), seq_(std::move(seq_key)),
          record_key_of_(std::move(record_key_of)) {}

    // Writes the record (its TTL too when ttl_s > 0), then indexes it under
    // the next sequence number, which it returns. Record first: a crash in
    // between leaves a record nobody lists, never an entry without record.
    int64_t create(const std::string& id, const Fields& fields, int ttl_s = 0);

    // Up to `limit` entries, newest first, below `cursor` (a previous
    // page's next_cursor; "" from the newest). Entries whose record is gone
    // are dropped from the index on the way and not returned, so a page may
    // be short; next_cursor is set only when older entries remain.
    Listing list(int limit, const std::string& cursor, bool with_fields);

    // Drops up to `batch` of the oldest index entries whose record is gone,
    // stopping at the first record still alive; returns how many.
    int trim(int batch = 1000);

    // Deletes the record and the keys `with` (its companions: same tag),
    // then its index entry. True when any of those keys existed.
    bool remove(const std::string& id, const std::vector<std::string>& with = {});

private:
    redis::Pool& pool_;
    std::string index_, seq_;
    KeyOf record_key_of_;
};

}  // namespace exed::jobs

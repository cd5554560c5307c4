// One customer behind many ids: the rules of an `identify` merge, and the store's forms of an
// alias (docs/protocol.md "Identify", docs/durability.md "Aliases").
//
// An alias keeps a record under its own id in the store's customers table, in place of the
// customer it was: an alias record names the canonical id and keeps the alias's last applied
// event ids, so a retry sent as the alias is still known as a duplicate. Reading a customer's
// record therefore resolves an alias in the same read, and an id with neither record is new.
// The canonical customer's aliases are listed under its id in Table::aliases.
//
// merge_customer() is plain data: the customer actor calls it with both states and commits
// what it returns in one batch with the alias record.
//
// Thread-safety: free functions of their arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "state/journey/customer_state.hpp"
#include "state/journey/event.hpp"
#include "state/journey/journey_model.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

// The first byte of an alias record; a customer record starts with kCustomerRecordVersion.
inline constexpr uint8_t kAliasRecordVersion = 0xA1;

struct AliasRecord {
    std::string canonical;
    std::vector<uint64_t> recent_ids;  // the alias's window of applied ids when it merged
};

std::string encode_alias_record(const AliasRecord& alias);
bool is_alias_record(std::string_view record);
// nullopt with `error` when the bytes are not an alias record.
std::optional<AliasRecord> decode_alias_record(std::string_view record, std::string& error);

// Table::aliases: a canonical id's aliases, in the order they joined.
std::string encode_alias_list(const std::vector<std::string>& aliases);
std::optional<std::vector<std::string>> decode_alias_list(std::string_view bytes,
                                                          std::string& error);

// What the alias's record and counts become when it merges: the alias record's stage move, its
// segments' and the aliases' counter changes, and its window of applied ids.
struct AliasLeave {
    std::pair<std::string, std::string> move;
    std::vector<std::pair<std::string, int64_t>> counter_changes;
    std::vector<uint64_t> recent_ids;
};
AliasLeave alias_leave(const CustomerState& alias, const JourneyModel& model);

// What a merge changes beyond the canonical state: for the store's counts.
struct MergeEffects {
    // The canonical customer's stage move ("" when the merge created it), if its stage changed.
    std::optional<std::pair<std::string, std::string>> stage_move;
    // The alias record's: from the alias's stage (or "" when it was never created) to none,
    // so the alias leaves its stage's count and its record counts as a stored entry; it leaves
    // its segments, and the aliases count one more.
    AliasLeave alias;
    bool preferences_changed = false;  // tz or consent of the canonical profile changed
};

// An alias's state on its way to the customer it merges into (the `merge_atom` message, and in
// a cluster the intent the alias's member keeps until the merge is settled).
struct MergeIn {
    std::string alias;
    std::string into;                  // the id it merges into, as resolved so far
    std::string record;                // the alias's state (encode_customer)
    std::vector<std::string> aliases;  // the alias's own aliases, which follow it
    // Those of them whose alias records the canonical customer's member rewrites: on the same
    // member as the alias, all it owns; across members, none (the alias's member does it).
    std::vector<std::string> repoint;
    Event identify;  // applied to the canonical customer with the merge
    // Across members: the alias's contact history and held requests (encode_handover), which
    // its member's coordinator handed over; empty on one member.
    std::string handover;
};

std::string encode_merge_in(const MergeIn& in);
std::optional<MergeIn> decode_merge_in(std::string_view bytes, std::string& error);

// Merges `alias` into `canonical` by the rules of docs/protocol.md "Identify":
// - profile: the canonical values win; the alias's fill the keys the canonical lacks;
// - stage: the canonical's, unless the canonical is new (created by this merge, or in the
//   initial stage), then the alias's, with the journey state that belongs to that stage (its
//   inactivity and segment timers, its driver episodes, stage_since);
// - program delays and goal windows: both, the alias's re-armed under the canonical's timer
//   sequence; count/within hits and condition windows: both;
// - applied event ids: the canonical window keeps its own ids and as many of the alias's
//   newest as fit; the alias record keeps the alias's whole window;
// - segments and holdout groups: the canonical's (groups follow the canonical id).
MergeEffects merge_customer(CustomerState& canonical, const CustomerState& alias,
                            const JourneyModel& model);

// Alias records for `aliases`, which follow an alias into `canonical`, pointed at it (chains
// collapse on write); each keeps its own window of ids, read from `store`.
void repoint_aliases(const std::vector<std::string>& aliases, const std::string& canonical,
                     const RecordStore& store, std::vector<StoreRecord>& out);

// The ids of a window of applied ids, oldest first.
std::vector<uint64_t> oldest_first(const RecentEventIds& ids);

}  // namespace journeyd

#include "state/store/store_overlay.hpp"

#include <algorithm>
#include <tuple>

namespace journeyd {

std::string StoreOverlay::applied_key(std::string_view customer, uint64_t fingerprint) {
    std::string key(8, '\0');
    for (size_t i = 0; i < 8; ++i) key[i] = static_cast<char>(fingerprint >> (8 * i));
    return key.append(customer);
}

StoreOverlay::Plan StoreOverlay::plan(const std::vector<StoreRecord>& batch) {
    Plan plan;
    // As LmdbStore::commit: a customer's last record in the batch is its state.
    plan.last_record = last_records(batch);
    for (const StoreRecord& record : batch)
        if (has_state(record) && record.stage_move && record.stage_move->first.empty())
            plan.created.insert(record.customer);
    return plan;
}

void StoreOverlay::apply_slice(const std::vector<StoreRecord>& batch, const Plan& plan,
                               size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
        const StoreRecord& record = batch[i];
        if (!has_state(record)) {
            count_moves(record, stage_deltas_);  // the coordinator's counts of its decisions
            continue;
        }
        ++records_;
        if (plan.last_record.at(record.customer) == i) {
            auto [it, inserted] = customers_.try_emplace(record.customer);
            Customer& customer = it->second;
            const std::optional<TimeMs> was = inserted ? std::nullopt : customer.due;
            if (inserted || !record.index_lower_bound) {
                customer.due = record.next_due;
                customer.lower_bound = record.index_lower_bound;
            } else {
                customer.due = earlier_due(customer.due, record.next_due);
            }
            if (was != customer.due) {
                if (was) index_.erase({*was, record.customer});
                if (customer.due) index_.insert({*customer.due, record.customer});
            }
            customer.record = record.record;
            if (plan.created.count(record.customer) > 0) customer.created = true;
        }
        if (record.stage_move && record.stage_move->first.empty()) ++created_;
        if (record.applied_event)
            applied_[applied_key(record.customer, *record.applied_event)] = record.applied_at;
        count_moves(record, stage_deltas_);
    }
    for (size_t i = begin; i < end; ++i)
        for (const TableWrite& write : batch[i].writes) {
            auto& table = tables_[static_cast<size_t>(write.table)];
            auto [it, inserted] = table.try_emplace(write.key);
            if (inserted) it->second.first_erased = !write.value.has_value();
            it->second.value = write.value;
            has_writes_ = true;
        }
}

const StoreOverlay::Customer* StoreOverlay::customer(std::string_view id) const {
    auto it = customers_.find(std::string(id));
    return it == customers_.end() ? nullptr : &it->second;
}

bool StoreOverlay::was_applied(std::string_view customer, uint64_t fingerprint) const {
    return applied_.count(applied_key(customer, fingerprint)) > 0;
}

const StoreOverlay::Entry* StoreOverlay::entry(Table table, const std::string& key) const {
    const auto& entries = tables_[static_cast<size_t>(table)];
    auto it = entries.find(key);
    return it == entries.end() ? nullptr : &it->second;
}

const std::unordered_map<std::string, StoreOverlay::Entry>& StoreOverlay::entries(
    Table table) const {
    return tables_[static_cast<size_t>(table)];
}

void StoreOverlay::add_to(StoreStats& stats) const {
    stats.customers += created_;
    for (const auto& [id, customer] : customers_) {
        if (customer.created)
            stats.pending_timers += customer.due ? 1 : 0;
        else if (!customer.lower_bound && !customer.due)
            --stats.pending_timers;  // counted as removing the entry it had
    }
    stats.applied_events += applied_.size();
    add_counts(stage_deltas_, stats);
    auto count = [](const std::unordered_map<std::string, Entry>& entries) {
        int64_t delta = 0;
        for (const auto& [key, entry] : entries)
            delta += (entry.value ? 1 : 0) - (entry.first_erased ? 1 : 0);
        return delta;
    };
    stats.pending_requests += static_cast<uint64_t>(count(entries(Table::requests)));
    stats.outbox += static_cast<uint64_t>(count(entries(Table::outbox)));
    stats.dead_letters += static_cast<uint64_t>(count(entries(Table::dead_letters)));
}

CoalescedWrites StoreOverlay::coalesced() const {
    // In key order, so that LMDB's puts walk each B-tree from one leaf to the next.
    CoalescedWrites writes;
    writes.customers.reserve(customers_.size());
    for (const auto& [id, customer] : customers_)
        if (!customer.record.empty())
            writes.customers.push_back({id, customer.record, customer.due, customer.lower_bound});
    std::sort(writes.customers.begin(), writes.customers.end(),
              [](const auto& a, const auto& b) { return a.customer < b.customer; });
    writes.applied.reserve(applied_.size());
    for (const auto& [key, at] : applied_) {
        uint64_t fingerprint = 0;
        for (size_t i = 8; i-- > 0;)
            fingerprint = (fingerprint << 8) | static_cast<uint8_t>(key[i]);
        writes.applied.push_back({fingerprint, std::string_view(key).substr(8), at});
    }
    std::sort(writes.applied.begin(), writes.applied.end(), [](const auto& a, const auto& b) {
        return std::tie(a.fingerprint, a.customer) < std::tie(b.fingerprint, b.customer);
    });
    writes.stage_deltas = stage_deltas_;
    for (size_t t = 0; t < kTables; ++t)
        for (const auto& [key, entry] : tables_[t])
            writes.writes.push_back(
                {static_cast<Table>(t), key,
                 entry.value ? std::optional<std::string_view>(*entry.value) : std::nullopt});
    std::sort(writes.writes.begin(), writes.writes.end(), [](const auto& a, const auto& b) {
        return std::tie(a.table, a.key) < std::tie(b.table, b.key);
    });
    writes.log_through = last_sequence_;
    return writes;
}

}  // namespace journeyd

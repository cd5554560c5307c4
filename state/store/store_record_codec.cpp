#include "state/store/store_record_codec.hpp"

#include <stdexcept>
#include <unordered_map>

namespace journeyd {

namespace {

constexpr uint8_t kVersion = 2;
constexpr uint8_t kVersionWithoutSuperseded = 1;
enum Flags : uint8_t {
    kNextDue = 1,
    kLowerBound = 2,
    kApplied = 4,
    kStageMove = 8,
    kSegmentMoves = 16,
    kCounterChanges = 32,
    kSuperseded = 64
};

void put(std::string& out, uint64_t value, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i, value >>= 8) out.push_back(static_cast<char>(value & 0xff));
}

void put_string(std::string& out, std::string_view bytes) {
    put(out, bytes.size(), 4);
    out.append(bytes);
}

class Reader {
  public:
    explicit Reader(std::string_view bytes) : bytes_(bytes) {}

    uint64_t number(size_t size) {
        const std::string_view raw = take(size);
        uint64_t value = 0;
        for (size_t i = size; i-- > 0;) value = (value << 8) | static_cast<uint8_t>(raw[i]);
        return value;
    }
    std::string string() { return std::string(take(number(4))); }
    // A count of items of at least one byte each: never more than the bytes left, so a
    // malformed count cannot make decode allocate without bound.
    size_t count() {
        const uint64_t n = number(4);
        if (n > bytes_.size()) throw std::runtime_error("write-ahead log record: bad count");
        return static_cast<size_t>(n);
    }
    bool done() const { return bytes_.empty(); }

  private:
    std::string_view take(uint64_t size) {
        if (size > bytes_.size())
            throw std::runtime_error("write-ahead log record: truncated batch");
        const std::string_view taken = bytes_.substr(0, size);
        bytes_.remove_prefix(size);
        return taken;
    }
    std::string_view bytes_;
};

}  // namespace

void encode_batch(const std::vector<StoreRecord>& batch, std::string& out) {
    // Sized first: a group commit of thousands of records would otherwise be copied at every
    // doubling of the string.
    size_t size = 5;
    for (const StoreRecord& r : batch) {
        size += 8 + r.customer.size() + r.record.size() + 1 + 8 + 8 + 8 + 4;
        if (r.stage_move) size += 8 + r.stage_move->first.size() + r.stage_move->second.size();
        for (const auto& move : r.segment_moves) size += 5 + move.first.size();
        for (const auto& change : r.counter_changes) size += 12 + change.first.size();
        for (const TableWrite& w : r.writes)
            size += 2 + 8 + w.key.size() + (w.value ? w.value->size() : 0);
    }
    out.clear();
    out.reserve(size);
    out.push_back(static_cast<char>(kVersion));
    put(out, batch.size(), 4);
    const std::unordered_map<std::string_view, size_t> last = last_records(batch);
    for (size_t i = 0; i < batch.size(); ++i) {
        const StoreRecord& r = batch[i];
        const bool superseded = r.superseded || (!r.record.empty() && last.at(r.customer) != i);
        put_string(out, r.customer);
        put_string(out, superseded ? std::string_view() : std::string_view(r.record));
        const uint8_t flags = (superseded ? kSuperseded : 0) | (r.next_due ? kNextDue : 0) |
                              (r.index_lower_bound ? kLowerBound : 0) |
                              (r.applied_event ? kApplied : 0) | (r.stage_move ? kStageMove : 0) |
                              (r.segment_moves.empty() ? 0 : kSegmentMoves) |
                              (r.counter_changes.empty() ? 0 : kCounterChanges);
        out.push_back(static_cast<char>(flags));
        if (r.next_due) put(out, static_cast<uint64_t>(*r.next_due), 8);
        if (r.applied_event) put(out, *r.applied_event, 8);
        put(out, static_cast<uint64_t>(r.applied_at), 8);
        if (r.stage_move) {
            put_string(out, r.stage_move->first);
            put_string(out, r.stage_move->second);
        }
        if (!r.segment_moves.empty()) {
            put(out, r.segment_moves.size(), 4);
            for (const auto& [segment, entered] : r.segment_moves) {
                put_string(out, segment);
                out.push_back(static_cast<char>(entered ? 1 : 0));
            }
        }
        if (!r.counter_changes.empty()) {
            put(out, r.counter_changes.size(), 4);
            for (const auto& [key, change] : r.counter_changes) {
                put_string(out, key);
                put(out, static_cast<uint64_t>(change), 8);
            }
        }
        put(out, r.writes.size(), 4);
        for (const TableWrite& w : r.writes) {
            out.push_back(static_cast<char>(w.table));
            out.push_back(static_cast<char>(w.value ? 1 : 0));
            put_string(out, w.key);
            if (w.value) put_string(out, *w.value);
        }
    }
}

std::vector<StoreRecord> decode_batch(std::string_view bytes) {
    Reader in(bytes);
    const uint64_t version = in.number(1);
    if (version != kVersion && version != kVersionWithoutSuperseded)
        throw std::runtime_error("write-ahead log record: unknown batch version");
    std::vector<StoreRecord> batch(in.count());
    for (StoreRecord& r : batch) {
        r.customer = in.string();
        r.record = in.string();
        const auto flags = static_cast<uint8_t>(in.number(1));
        r.superseded = (flags & kSuperseded) != 0;
        if (flags & kNextDue) r.next_due = static_cast<TimeMs>(in.number(8));
        r.index_lower_bound = (flags & kLowerBound) != 0;
        if (flags & kApplied) r.applied_event = in.number(8);
        r.applied_at = static_cast<TimeMs>(in.number(8));
        if (flags & kStageMove) {
            std::string from = in.string();
            r.stage_move.emplace(std::move(from), in.string());
        }
        if (flags & kSegmentMoves) {
            r.segment_moves.resize(in.count());
            for (auto& [segment, entered] : r.segment_moves) {
                segment = in.string();
                entered = in.number(1) != 0;
            }
        }
        if (flags & kCounterChanges) {
            r.counter_changes.resize(in.count());
            for (auto& [key, change] : r.counter_changes) {
                key = in.string();
                change = static_cast<int64_t>(in.number(8));
            }
        }
        r.writes.resize(in.count());
        for (TableWrite& w : r.writes) {
            const uint64_t table = in.number(1);
            if (table >= kTables) throw std::runtime_error("write-ahead log record: unknown table");
            w.table = static_cast<Table>(table);
            const bool has_value = in.number(1) != 0;
            w.key = in.string();
            if (has_value) w.value = in.string();
        }
    }
    if (!in.done()) throw std::runtime_error("write-ahead log record: bytes after the batch");
    return batch;
}

}  // namespace journeyd

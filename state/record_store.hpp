// Where customer records go to be durable. The store writer actor is the only writer: it
// hands over a batch from many customers and acknowledges their events only after
// commit() returns, so commit() must not return before the batch is durable.
//
// MemoryRecordStore keeps records in memory: "durable" for the life of the process. It
// backs tests and runs until the LMDB store lands behind the same interface.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace journeyd {

struct StoreRecord {
    std::string customer;
    std::string record;  // empty: nothing to write, see StoreWriter
};

class RecordStore {
  public:
    virtual ~RecordStore() = default;
    // All of the batch or nothing; a later record for the same customer wins.
    virtual void commit(const std::vector<StoreRecord>& batch) = 0;
    virtual std::optional<std::string> read(const std::string& customer) const = 0;
    virtual size_t customer_count() const = 0;
};

class MemoryRecordStore final : public RecordStore {
  public:
    void commit(const std::vector<StoreRecord>& batch) override {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const StoreRecord& r : batch)
            if (!r.record.empty()) records_[r.customer] = r.record;
        ++commits_;
    }

    std::optional<std::string> read(const std::string& customer) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = records_.find(customer);
        if (it == records_.end()) return std::nullopt;
        return it->second;
    }

    size_t customer_count() const override {
        std::lock_guard<std::mutex> lock(mutex_);
        return records_.size();
    }

    size_t commits() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return commits_;
    }

  private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::string> records_;
    size_t commits_ = 0;
};

}  // namespace journeyd

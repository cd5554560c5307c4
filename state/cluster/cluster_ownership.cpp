#include "state/cluster/cluster_ownership.hpp"

#include "state/stable_hash.hpp"

namespace journeyd {
namespace {

// The murmur3 finalizer: every bit of the input flips about half the output bits, which
// FNV-1a alone does not do for ids that differ only in their last bytes ("customer-17",
// "customer-18"), nor for an FNV hash xor-ed with a member's seed.
uint64_t avalanche(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

}  // namespace

ClusterOwnership::ClusterOwnership(std::vector<std::string> members, const std::string& self)
    : members_(std::move(members)) {
    // In list order: the first member lends the rate budgets and leases are kept by place in
    // the list, so nodes must agree on the order, not only on the names.
    fingerprint_ = stable_hash("members");
    for (const std::string& name : members_) fingerprint_ = stable_hash(name + '\n', fingerprint_);
    for (size_t i = 0; i < members_.size(); ++i) {
        seeds_.push_back(stable_hash(members_[i], stable_hash("owner")));
        if (members_[i] == self) self_ = i;
    }
}

size_t ClusterOwnership::owner_of(std::string_view customer) const {
    // The id is hashed once; each member's weight mixes that hash with the member's seed,
    // so routing costs one pass over the id and a few multiplications a member.
    const uint64_t id = stable_hash(customer);
    size_t best = 0;
    uint64_t best_weight = 0;
    for (size_t i = 0; i < members_.size(); ++i) {
        const uint64_t weight = avalanche(id ^ seeds_[i]);
        if (i == 0 || weight > best_weight ||
            (weight == best_weight && members_[i] < members_[best])) {
            best = i;
            best_weight = weight;
        }
    }
    return best;
}

}  // namespace journeyd

// Which node of a cluster owns a customer: rendezvous (highest-random-weight) hashing of the
// customer id over the configured member list.
//
// Every node computes the same owner from the same member list, with no coordination: each
// member's weight for a customer mixes a stable hash of the id with one of the member's
// name, and the highest weight wins (ties, which need equal 64-bit hashes, go to the lower
// name). A customer therefore has exactly one owner per member list, and adding or removing
// one member moves only the customers that member gains or loses.
//
// The hash runs over the configured members, not over those that are up right now: a
// customer's state, contact history and caps live in its owner's store, so moving it while
// its owner is down would split its history and break its caps. Its events get an error
// until the owner is back (runtime/cluster/cluster.hpp).
//
// fingerprint() summarises the member list, in order; nodes compare it when they connect and
// refuse a peer whose list differs: two lists could give one customer two owners, and two
// orders two rate lenders or two members one lease slot (state/pressure/rate_lease.hpp).
//
// Thread-safety: immutable once built; ingest sessions, the gateway and admin threads call its
// const methods at once, through their CustomerRouter or copy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace journeyd {

class ClusterOwnership {
  public:
    ClusterOwnership() = default;
    // `members` are names, unique; `self` is one of them.
    ClusterOwnership(std::vector<std::string> members, const std::string& self);

    size_t owner_of(std::string_view customer) const;  // index into members()
    bool owns(std::string_view customer) const { return owner_of(customer) == self_; }
    size_t self() const { return self_; }
    const std::vector<std::string>& members() const { return members_; }
    uint64_t fingerprint() const { return fingerprint_; }

  private:
    std::vector<std::string> members_;
    std::vector<uint64_t> seeds_;
    size_t self_ = 0;
    uint64_t fingerprint_ = 0;
};

}  // namespace journeyd

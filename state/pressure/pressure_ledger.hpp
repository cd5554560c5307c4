// PressureLedger: the contact-pressure rules of `[pressure]` applied to program requests,
// plain C++ (the coordinator actor only delivers messages to it and a clock).
//
// Every request ends in exactly one final outcome, send or suppress; on the way it may be
// deferred any number of times, each a logged decision with the same decision_id.
//
// Order of the rules, for the request that reaches them:
// 1. Arbitration: requests for one customer arriving within `arbitration_window` of the
//    first compete when the window closes; the highest class wins, ties go to the program
//    listed first; the others are suppressed "arbitration". A window of 0 decides at once.
// 2. Consent: a channel the customer refused (profile consent[channel] = false) is
//    suppressed "consent", exempt classes included.
// 3. Send time (programs with send_at = "best_hour"): deferred "best_hour" until the start of
//    the customer's best local hour within send_within of the request, chosen from the hours
//    the request carries (ContactRequest::send_hours) and never inside quiet hours (exempt
//    classes: no quiet hours). It is chosen from the request alone, so every evaluation of it,
//    before and after a restart, finds the same hour: once that hour has come, or when the
//    request's own hour is the best or no hour is allowed, the request goes on to rule 4.
// 4. Quiet hours (not for exempt classes): deferred "quiet_hours" until the window ends in
//    the customer's time zone, then evaluated again from rule 2, so it can still be capped.
// 5. Caps (not for exempt classes): exact rolling windows over the customer's sends, per
//    channel and for "*"; over a cap: suppress "cap". Exempt sends are shown among the
//    contacts but do not count against caps: a password reset must not use up the
//    marketing budget.
// 6. Rate budgets: per channel for all customers together, a GCRA token bucket of `rate`
//    sends per second with one second of burst. Excess is deferred "rate" to the slot
//    the request reserves, so deferred requests leave in order, one slot each, and never
//    wake up together to fight over one token. A reserved slot is honoured when it comes.
// 7. Send.
// A request with candidate actions (a program with action = "best") first chooses the best
// ranked action whose channel the customer consents to, that is not in its cooldown for the
// customer and whose channel is under its caps (exempt classes: not capped); the skipped ones
// and why are on the decision. The rules above then apply to the chosen action's channel and
// class. When every candidate is skipped, the request is suppressed with the best one's reason.
// A deferred request chooses again when it is evaluated again; one that reserved a rate slot and
// now chooses an action on another channel asks that channel's budget for a slot.
// Control groups (state/decisioning/holdout.hpp): a request of a customer held out of its program
// (`[experiment] global_holdout` or the program's `holdout`) or of the action chosen for it (the
// action's `holdout`; never for an exempt class) is
// decided in full, as if it were not, and then recorded as suppress "holdout" with the outcome
// it would have had in `would_have`. It leaves nothing behind: no send counted against caps or
// cooldowns, no rate slot taken, no deferral; an arbitration it wins is won all the same, so the
// programs it beat lose as they would have.
// Requests the journey already dropped (ContactRequest::dropped_reason, e.g. "left_stage")
// are recorded as suppress with that reason and no rule applied.
//
// Not thread-safe: owned by the coordinator actor; the admin port asks the coordinator.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "state/decisioning/holdout.hpp"
#include "state/journey/journey_model.hpp"
#include "state/pressure/contact_request.hpp"
#include "state/pressure/pressure_policy.hpp"
#include "state/pressure/quiet_hours.hpp"
#include "state/sharded_hash_map.hpp"

namespace journeyd {

enum class Outcome : uint8_t { send, defer, suppress };
std::string_view to_string(Outcome outcome);

struct SkippedAction {
    ActionId action = 0;
    std::string reason;  // "consent", "cooldown", "cap"

    bool operator==(const SkippedAction& o) const {
        return action == o.action && reason == o.reason;
    }
};

struct Decision {
    std::string decision_id;
    std::string customer;
    ProgramId program = 0;
    Outcome outcome = Outcome::send;
    std::string reason;  // "ok", "quiet_hours", "rate", "consent", "cap", "arbitration", ...
    std::string detail;  // the rule that applied, for the decision log ("email 2 per 7d")
    TimeMs until = 0;    // defer: when it is evaluated again
    TimeMs at = 0;       // when it was decided
    TimeMs requested_at = 0;
    ActionId action = kNoAction;           // the action sent (or refused), for "best" programs
    std::vector<RankedAction> candidates;  // as ranked for the request
    std::vector<SkippedAction> skipped;    // ranked above the chosen one, refused by the rules
    // Reason "holdout": what the rules decided for the request, which was not carried out, and
    // whose holdout kept it (not stored: only the goal notice made at publishing needs it).
    std::optional<Outcome> would_have;
    Holdout held_out = Holdout::none;
    // The version of the configuration it was decided under (config_version.hpp); "" for a
    // decision stored before versions, or made by a ledger outside the daemon.
    std::string config_version;
};

struct Contact {
    ProgramId program = 0;
    TimeMs at = 0;
    bool counts_against_caps = true;
    ActionId action = kNoAction;
};

class PressureLedger {
  public:
    PressureLedger(PressurePolicy policy, JourneyModel model);

    // Profile changes between requests (consent revoked while a request is deferred); each
    // request also brings the customer's preferences as they were when it was made.
    void set_preferences(const std::string& customer, ContactPreferences preferences);

    // Decisions made now are appended to `out`; requests held for arbitration are decided
    // by a later advance().
    void submit(ContactRequest request, TimeMs now, std::vector<Decision>& out);

    // Closes due arbitration windows and re-evaluates due deferrals, in time order.
    void advance(TimeMs now, std::vector<Decision>& out);

    // Decides every open arbitration now (at shutdown: nobody should wait for a window that
    // will not close in this process).
    void close_arbitration(TimeMs now, std::vector<Decision>& out);

    // When advance() next has work; nullopt when nothing is held.
    std::optional<TimeMs> next_wakeup() const;

    // The customer's sends still inside the longest cap window (older ones are forgotten).
    std::vector<Contact> contacts(const std::string& customer) const;

    // Whether the ledger holds anything of the customer. The caller restores a customer's
    // durable sends before the first request of it, or caps start from zero.
    bool knows(const std::string& customer) const { return customers_.contains(customer); }
    size_t customers() const { return customers_.size(); }  // O(its shards): for stats only
    // Whether it holds a request of the customer: in an open arbitration window, or deferred.
    bool holds(const std::string& customer) const;
    // Whether the request with this decision id is in the customer's open arbitration window.
    bool contends(const std::string& customer, const std::string& decision_id) const;
    // Lets go of a customer it holds no request of (the caller checks holds()): their sends
    // are durable and restored at their next request, as after a restart.
    void forget(const std::string& customer);
    void restore(const std::string& customer, std::vector<Contact> sends);
    // An identify merged `alias` into `canonical` (the caller restored both first): the alias's
    // sends count against the canonical customer's caps and cooldowns, and its requests in an
    // arbitration window or deferred become the canonical customer's. Returns those requests,
    // re-addressed, for the caller to store again.
    std::vector<ContactRequest> merge(const std::string& alias, const std::string& canonical);
    // An identify merges the customer into one of another cluster member: its requests in an
    // arbitration window or deferred leave this ledger undecided, with the customer, and are
    // returned (for the other member, or to be submitted again if the merge fails).
    std::vector<ContactRequest> hand_over(const std::string& customer);

    size_t held() const { return deferred_.size() + arbitration_closes_.size(); }

    // A configuration change (config/live_config.hpp): decisions from now on follow `policy`
    // and `model`, whose ids are aligned to the running model's (model_alignment.hpp), so what
    // the ledger holds keeps its meaning. A rate budget the change keeps keeps its place in
    // time (no new burst); caps and cooldowns count the sends already made.
    void reconfigure(PressurePolicy policy, JourneyModel model);

    // A channel's rate budget from now on (in a cluster, this node's share: rate_lease.hpp);
    // ignored for a channel without a budget. Slots already reserved stay as they are.
    void set_rate(const std::string& channel, double per_second);
    // Per budgeted channel, the requests that asked it for a slot since the last call.
    std::map<std::string, double> take_rate_demand();

  private:
    struct Held {
        ContactRequest request;
        bool rate_reserved = false;
    };
    struct CustomerLedger {
        ContactPreferences preferences;
        std::vector<Contact> sends;              // by time
        std::vector<ContactRequest> contenders;  // in the open arbitration window
        uint32_t deferred = 0;                   // of its requests in deferred_
    };
    struct RateBudget {
        double interval_ms = 0;  // 1000 / rate
        double theoretical_arrival = 0;
        double asked = 0;  // requests that asked for a slot, since take_rate_demand
    };

    void arbitrate(CustomerLedger& customer, TimeMs now, std::vector<Decision>& out);
    void evaluate(Held held, TimeMs now, std::vector<Decision>& out);
    void apply_rules(Held held, TimeMs now, std::vector<Decision>& out);
    // Sets request.action to the best candidate the rules allow; when none, to the best one,
    // and returns why it is refused (reason, detail).
    std::optional<std::pair<std::string, std::string>> choose_action(
        const CustomerLedger& customer, ContactRequest& request, TimeMs now,
        std::vector<SkippedAction>& skipped) const;
    std::optional<std::string> in_cooldown(const CustomerLedger& customer, ActionId action,
                                           TimeMs now) const;
    Decision decide(const ContactRequest& request, Outcome outcome, std::string reason,
                    std::string detail, TimeMs now) const;
    // For a request of a send_at = "best_hour" program carrying its hours: when its best hour
    // starts (request.at itself when that is the best), or nullopt when no hour is allowed.
    std::optional<TimeMs> best_hour_after(const ContactRequest& request, bool exempt,
                                          const date::time_zone* zone) const;
    // Whether the request's customer is kept from its program (under the chosen action's class).
    Holdout holdout_for(const ContactRequest& request) const;
    // Appends `d`, as the holdout records it when the customer is held out.
    static void record(Decision d, Holdout holdout, std::vector<Decision>& out);
    std::optional<std::string> exceeded_cap(const CustomerLedger& customer,
                                            const std::string& channel, TimeMs now) const;
    void forget_old_sends(CustomerLedger& customer, TimeMs now) const;
    void defer(CustomerLedger& customer, TimeMs until, Held held);
    // Records a defer decision until `until` and holds the request until then, unless the
    // customer is held out (then the decision records what would have been, and nothing waits).
    void defer_decided(CustomerLedger& customer, Held held, std::string reason, std::string detail,
                       TimeMs until, TimeMs now, Holdout holdout, std::vector<Decision>& out);
    // longest_cap_ and rates_ from policy_ and model_; budgets in `kept` keep their place.
    void take_rules(const std::unordered_map<std::string, RateBudget>& kept);

    PressurePolicy policy_;
    JourneyModel model_;
    TimeZones zones_;
    DurationMs longest_cap_ = 0;                // or cooldown: how long a send is remembered
    ShardedHashMap<CustomerLedger> customers_;  // no stall while growing
    std::unordered_map<std::string, RateBudget> rates_;
    std::multimap<TimeMs, Held> deferred_;                   // by when they are due again
    std::multimap<TimeMs, std::string> arbitration_closes_;  // customer by window close
};

}  // namespace journeyd

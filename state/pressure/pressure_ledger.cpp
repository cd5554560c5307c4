#include "state/pressure/pressure_ledger.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include <date/tz.h>

namespace journeyd {
namespace {

// GCRA burst tolerance: a channel may use one second of its budget at once.
constexpr double kRateBurstMs = 1000.0;

std::string clock_text(int minute) {
    const auto two_digits = [](int n) {
        return std::string(1, char('0' + n / 10)) + char('0' + n % 10);
    };
    return two_digits(minute / 60 % 24) + ":" + two_digits(minute % 60);
}

// "333" or "0.5": a rate as the defer detail shows it.
std::string rate_text(double per_second) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*f", per_second < 10 ? 1 : 0, per_second);
    return text;
}

// "19:00": the local time of `at` in `zone`, for the best_hour detail.
std::string local_clock_text(TimeMs at, const date::time_zone* zone) {
    const auto local =
        zone->to_local(date::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds(at)});
    const auto minutes = date::floor<std::chrono::minutes>(local - date::floor<date::days>(local));
    return clock_text(static_cast<int>(minutes.count()));
}

}  // namespace

std::string_view to_string(Outcome outcome) {
    switch (outcome) {
        case Outcome::send:
            return "send";
        case Outcome::defer:
            return "defer";
        case Outcome::suppress:
            return "suppress";
    }
    return "?";
}

PressureLedger::PressureLedger(PressurePolicy policy, JourneyModel model)
    : policy_(std::move(policy)), model_(std::move(model)) {
    take_rules({});
}

void PressureLedger::reconfigure(PressurePolicy policy, JourneyModel model) {
    policy_ = std::move(policy);
    model_ = std::move(model);
    take_rules(std::exchange(rates_, {}));
}

void PressureLedger::take_rules(const std::unordered_map<std::string, RateBudget>& kept) {
    longest_cap_ = 0;
    for (const CapRule& cap : policy_.caps) longest_cap_ = std::max(longest_cap_, cap.per);
    for (const Action& action : model_.actions)
        longest_cap_ = std::max(longest_cap_, action.cooldown);
    for (const auto& [channel, per_second] : policy_.rate) {
        RateBudget budget{1000.0 / per_second, 0};
        if (auto before = kept.find(channel); before != kept.end()) {
            budget.theoretical_arrival = before->second.theoretical_arrival;
            budget.asked = before->second.asked;
        }
        rates_[channel] = budget;
    }
}

void PressureLedger::set_rate(const std::string& channel, double per_second) {
    auto budget = rates_.find(channel);
    if (budget == rates_.end() || per_second <= 0) return;
    budget->second.interval_ms = 1000.0 / per_second;
}

std::map<std::string, double> PressureLedger::take_rate_demand() {
    std::map<std::string, double> demand;
    for (auto& [channel, budget] : rates_) {
        demand[channel] = budget.asked;
        budget.asked = 0;
    }
    return demand;
}

void PressureLedger::set_preferences(const std::string& customer, ContactPreferences preferences) {
    customers_[customer].preferences = std::move(preferences);
}

void PressureLedger::submit(ContactRequest request, TimeMs now, std::vector<Decision>& out) {
    if (!request.dropped_reason.empty()) {
        std::string reason = request.dropped_reason;
        out.push_back(decide(request, Outcome::suppress, std::move(reason),
                             "dropped by the journey before it was due", now));
        return;
    }
    customers_[request.customer].preferences = request.preferences;
    if (policy_.arbitration_window <= 0) {
        evaluate(Held{std::move(request), false}, now, out);
        return;
    }
    CustomerLedger& customer = customers_[request.customer];
    if (customer.contenders.empty())
        arbitration_closes_.emplace(now + policy_.arbitration_window, request.customer);
    customer.contenders.push_back(std::move(request));
}

void PressureLedger::advance(TimeMs now, std::vector<Decision>& out) {
    for (;;) {
        const bool arbitration_due =
            !arbitration_closes_.empty() && arbitration_closes_.begin()->first <= now;
        const bool deferral_due = !deferred_.empty() && deferred_.begin()->first <= now;
        if (!arbitration_due && !deferral_due) return;
        // Earliest first; at a tie, arbitration first: it was waiting since before.
        if (arbitration_due &&
            (!deferral_due || arbitration_closes_.begin()->first <= deferred_.begin()->first)) {
            const std::string customer = std::move(arbitration_closes_.begin()->second);
            arbitration_closes_.erase(arbitration_closes_.begin());
            arbitrate(customers_[customer], now, out);
        } else {
            auto due = deferred_.begin();
            Held held = std::move(due->second);
            deferred_.erase(due);
            --customers_[held.request.customer].deferred;
            evaluate(std::move(held), now, out);
        }
    }
}

void PressureLedger::close_arbitration(TimeMs now, std::vector<Decision>& out) {
    while (!arbitration_closes_.empty()) {
        const std::string customer = std::move(arbitration_closes_.begin()->second);
        arbitration_closes_.erase(arbitration_closes_.begin());
        arbitrate(customers_[customer], now, out);
    }
}

std::optional<TimeMs> PressureLedger::next_wakeup() const {
    std::optional<TimeMs> next;
    if (!arbitration_closes_.empty()) next = arbitration_closes_.begin()->first;
    if (!deferred_.empty() && (!next || deferred_.begin()->first < *next))
        next = deferred_.begin()->first;
    return next;
}

void PressureLedger::restore(const std::string& customer, std::vector<Contact> sends) {
    customers_[customer].sends = std::move(sends);
}

bool PressureLedger::contends(const std::string& customer, const std::string& decision_id) const {
    const CustomerLedger* held = customers_.find(customer);
    if (held == nullptr) return false;
    return std::any_of(held->contenders.begin(), held->contenders.end(),
                       [&](const ContactRequest& r) { return r.decision_id == decision_id; });
}

bool PressureLedger::holds(const std::string& customer) const {
    const CustomerLedger* known = customers_.find(customer);
    return known && (known->deferred > 0 || !known->contenders.empty());
}

void PressureLedger::forget(const std::string& customer) {
    customers_.erase(customer);
}

std::vector<ContactRequest> PressureLedger::merge(const std::string& alias,
                                                  const std::string& canonical) {
    std::vector<ContactRequest> moved;
    CustomerLedger* found = customers_.find(alias);
    if (found == nullptr || alias == canonical) return moved;
    CustomerLedger from = std::move(*found);
    customers_.erase(alias);
    CustomerLedger& into = customers_[canonical];
    const auto middle = into.sends.insert(into.sends.end(), from.sends.begin(), from.sends.end());
    std::inplace_merge(into.sends.begin(), middle, into.sends.end(),
                       [](const Contact& a, const Contact& b) { return a.at < b.at; });
    if (!from.contenders.empty()) {
        // The alias's window closes as the canonical's, unless that one has a window of its own.
        const bool had_window = !into.contenders.empty();
        for (ContactRequest& request : from.contenders) {
            request.customer = canonical;
            moved.push_back(request);
            into.contenders.push_back(std::move(request));
        }
        for (auto it = arbitration_closes_.begin(); it != arbitration_closes_.end(); ++it) {
            if (it->second != alias) continue;
            if (had_window)
                arbitration_closes_.erase(it);
            else
                it->second = canonical;
            break;
        }
    }
    if (from.deferred > 0) {
        for (auto& [due, held] : deferred_)
            if (held.request.customer == alias) {
                held.request.customer = canonical;
                moved.push_back(held.request);
            }
        into.deferred += from.deferred;
    }
    return moved;
}

std::vector<ContactRequest> PressureLedger::hand_over(const std::string& customer) {
    std::vector<ContactRequest> held;
    CustomerLedger* found = customers_.find(customer);
    if (found == nullptr) return held;
    held = std::move(found->contenders);
    if (!held.empty())
        for (auto it = arbitration_closes_.begin(); it != arbitration_closes_.end(); ++it)
            if (it->second == customer) {
                arbitration_closes_.erase(it);
                break;
            }
    if (found->deferred > 0)
        for (auto it = deferred_.begin(); it != deferred_.end();) {
            if (it->second.request.customer != customer) {
                ++it;
                continue;
            }
            held.push_back(std::move(it->second.request));
            it = deferred_.erase(it);
        }
    customers_.erase(customer);
    return held;
}

void PressureLedger::defer(CustomerLedger& customer, TimeMs until, Held held) {
    ++customer.deferred;
    deferred_.emplace(until, std::move(held));
}

std::vector<Contact> PressureLedger::contacts(const std::string& customer) const {
    const CustomerLedger* known = customers_.find(customer);
    return known ? known->sends : std::vector<Contact>{};
}

void PressureLedger::arbitrate(CustomerLedger& customer, TimeMs now, std::vector<Decision>& out) {
    std::vector<ContactRequest> contenders = std::move(customer.contenders);
    customer.contenders.clear();
    // A "best" program contends with the class of its best ranked action.
    auto priority = [&](const ContactRequest& r) {
        return model_.priority_of(r.program,
                                  r.candidates.empty() ? kNoAction : r.candidates.front().action);
    };
    auto rank = [&](const ContactRequest& r) { return std::make_pair(priority(r), r.program); };
    auto winner = std::min_element(contenders.begin(), contenders.end(),
                                   [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
    const std::string lost_to = "lost to " + model_.programs[winner->program].name + " (" +
                                policy_.hierarchy[priority(*winner)] + ")";
    for (auto it = contenders.begin(); it != contenders.end(); ++it) {
        if (it == winner) continue;
        // A "best" program loses with its best ranked action, whose class contended.
        if (!it->candidates.empty()) it->action = it->candidates.front().action;
        record(decide(*it, Outcome::suppress, "arbitration", lost_to, now), holdout_for(*it), out);
    }
    evaluate(Held{std::move(*winner), false}, now, out);
}

void PressureLedger::evaluate(Held held, TimeMs now, std::vector<Decision>& out) {
    if (held.request.candidates.empty()) return apply_rules(std::move(held), now, out);
    const CustomerLedger& customer = customers_[held.request.customer];
    std::vector<SkippedAction> skipped;
    const ActionId before = held.request.action;
    auto refused = choose_action(customer, held.request, now, skipped);
    // A slot reserved on another channel is not this action's to use: it asks its own.
    if (held.rate_reserved && model_.channel_of(held.request.program, before) !=
                                  model_.channel_of(held.request.program, held.request.action))
        held.rate_reserved = false;
    if (refused) {
        record(decide(held.request, Outcome::suppress, std::move(refused->first),
                      std::move(refused->second), now),
               holdout_for(held.request), out);
    } else {
        apply_rules(std::move(held), now, out);
    }
    out.back().skipped = std::move(skipped);
}

std::optional<std::pair<std::string, std::string>> PressureLedger::choose_action(
    const CustomerLedger& customer, ContactRequest& request, TimeMs now,
    std::vector<SkippedAction>& skipped) const {
    std::optional<std::pair<std::string, std::string>> first_refusal;
    const auto& refused = customer.preferences.refused_channels;
    for (const RankedAction& candidate : request.candidates) {
        const Action& action = model_.actions[candidate.action];
        std::optional<std::pair<std::string, std::string>> refusal;
        if (std::find(refused.begin(), refused.end(), action.channel) != refused.end())
            refusal.emplace("consent", "no consent for " + action.channel);
        else if (auto cooldown = in_cooldown(customer, candidate.action, now))
            refusal.emplace("cooldown", std::move(*cooldown));
        else if (!policy_.exempt[action.priority])
            if (auto cap = exceeded_cap(customer, action.channel, now))
                refusal.emplace("cap", std::move(*cap));
        if (!refusal) {
            request.action = candidate.action;
            return std::nullopt;
        }
        skipped.push_back({candidate.action, refusal->first});
        if (!first_refusal) first_refusal = std::move(refusal);
    }
    request.action = request.candidates.front().action;
    first_refusal->second = model_.actions[request.action].name + ": " + first_refusal->second;
    return first_refusal;
}

std::optional<std::string> PressureLedger::in_cooldown(const CustomerLedger& customer,
                                                       ActionId action, TimeMs now) const {
    const DurationMs cooldown = model_.actions[action].cooldown;
    if (cooldown <= 0) return std::nullopt;
    for (const Contact& sent : customer.sends)
        if (sent.action == action && sent.at > now - cooldown)
            return model_.actions[action].name + " sent at " + std::to_string(sent.at) +
                   ", cooldown " + std::to_string(cooldown / 1000) + "s";
    return std::nullopt;
}

void PressureLedger::apply_rules(Held held, TimeMs now, std::vector<Decision>& out) {
    const ContactRequest& request = held.request;
    const std::string& channel = model_.channel_of(request.program, request.action);
    const bool exempt = policy_.exempt[model_.priority_of(request.program, request.action)];
    const Holdout holdout = holdout_for(request);
    const bool held_out = holdout != Holdout::none;
    CustomerLedger& customer = customers_[request.customer];
    const ContactPreferences& preferences = customer.preferences;

    const auto& refused = preferences.refused_channels;
    if (std::find(refused.begin(), refused.end(), channel) != refused.end()) {
        record(decide(request, Outcome::suppress, "consent", "no consent for " + channel, now),
               holdout, out);
        return;
    }
    // The zone is looked up only for a rule that reads it, and its name spelt out only for a
    // deferral's detail: not for every request that is sent.
    const bool timed = model_.programs[request.program].send_at_best_hour && request.send_hours;
    const bool quiet = !exempt && policy_.quiet_hours;
    const date::time_zone* zone =
        timed || quiet ? zones_.find_or_utc(preferences.time_zone) : nullptr;
    auto zone_name = [&] {
        return preferences.time_zone.empty() ? std::string("UTC") : preferences.time_zone;
    };
    if (auto until = timed ? best_hour_after(request, exempt, zone) : std::nullopt;
        until && *until > now) {
        const std::string detail = local_clock_text(*until, zone) + " " + zone_name();
        return defer_decided(customer, std::move(held), "best_hour", detail, *until, now, holdout,
                             out);
    }
    if (quiet) {
        if (auto until = quiet_until(*policy_.quiet_hours, zone, now)) {
            const std::string detail = clock_text(policy_.quiet_hours->start_minute) + "-" +
                                       clock_text(policy_.quiet_hours->end_minute) + " " +
                                       zone_name();
            return defer_decided(customer, std::move(held), "quiet_hours", detail, *until, now,
                                 holdout, out);
        }
    }
    forget_old_sends(customer, now);
    if (!exempt) {
        if (auto cap = exceeded_cap(customer, channel, now)) {
            record(decide(request, Outcome::suppress, "cap", std::move(*cap), now), holdout, out);
            return;
        }
    }
    auto rate = rates_.find(channel);
    if (rate != rates_.end() && !held.rate_reserved) {
        // A held-out request asks for no slot: it only learns whether it would have waited.
        RateBudget& budget = rate->second;
        const double slot = std::max(budget.theoretical_arrival, static_cast<double>(now));
        if (!held_out) {
            ++budget.asked;
            budget.theoretical_arrival = slot + budget.interval_ms;
        }
        if (slot - now > kRateBurstMs) {
            const TimeMs until = static_cast<TimeMs>(std::ceil(slot - kRateBurstMs));
            Decision d =
                decide(request, Outcome::defer, "rate",
                       channel + " budget " + rate_text(1000.0 / budget.interval_ms) + "/s", now);
            d.until = until;
            record(std::move(d), holdout, out);
            if (held_out) return;
            held.rate_reserved = true;
            defer(customer, until, std::move(held));
            return;
        }
    }
    if (!held_out) customer.sends.push_back({request.program, now, !exempt, request.action});
    record(decide(request, Outcome::send, "ok", exempt ? "exempt class" : "", now), holdout, out);
}

void PressureLedger::defer_decided(CustomerLedger& customer, Held held, std::string reason,
                                   std::string detail, TimeMs until, TimeMs now, Holdout holdout,
                                   std::vector<Decision>& out) {
    Decision d = decide(held.request, Outcome::defer, std::move(reason), std::move(detail), now);
    d.until = until;
    record(std::move(d), holdout, out);
    if (holdout == Holdout::none) defer(customer, until, std::move(held));
}

std::optional<TimeMs> PressureLedger::best_hour_after(const ContactRequest& request, bool exempt,
                                                      const date::time_zone* zone) const {
    const Program& program = model_.programs[request.program];
    return best_hour(weights_of(*request.send_hours), zone, request.at, program.send_within,
                     exempt ? std::nullopt : policy_.quiet_hours);
}

Holdout PressureLedger::holdout_for(const ContactRequest& request) const {
    const ActionId action = request.action != kNoAction  ? request.action
                            : request.candidates.empty() ? kNoAction
                                                         : request.candidates.front().action;
    if (policy_.exempt[model_.priority_of(request.program, action)]) return Holdout::none;
    const Holdout of_program = holdout_of(model_, request.program, request.customer);
    if (of_program != Holdout::none || action == kNoAction) return of_program;
    return in_action_holdout(model_, action, request.customer) ? Holdout::action : Holdout::none;
}

void PressureLedger::record(Decision d, Holdout holdout, std::vector<Decision>& out) {
    if (holdout != Holdout::none) {
        d.would_have = d.outcome;
        static constexpr const char* kWhich[] = {"", "global holdout", "program holdout",
                                                 "action holdout"};
        d.detail = std::string(kWhich[static_cast<size_t>(holdout)]) +
                   ", would have: " + std::string(to_string(d.outcome)) +
                   (d.reason == "ok" ? "" : " " + d.reason) +
                   (d.detail.empty() ? "" : " (" + d.detail + ")");
        d.outcome = Outcome::suppress;
        d.reason = "holdout";
        d.held_out = holdout;
        d.until = 0;
    }
    out.push_back(std::move(d));
}

Decision PressureLedger::decide(const ContactRequest& request, Outcome outcome, std::string reason,
                                std::string detail, TimeMs now) const {
    Decision d;
    d.decision_id = request.decision_id;
    d.customer = request.customer;
    d.program = request.program;
    d.outcome = outcome;
    d.reason = std::move(reason);
    d.detail = std::move(detail);
    d.at = now;
    d.requested_at = request.at;
    d.action = request.action;
    d.candidates = request.candidates;
    return d;
}

std::optional<std::string> PressureLedger::exceeded_cap(const CustomerLedger& customer,
                                                        const std::string& channel,
                                                        TimeMs now) const {
    for (const CapRule& cap : policy_.caps) {
        if (cap.channel != "*" && cap.channel != channel) continue;
        uint32_t used = 0;
        for (const Contact& sent : customer.sends) {
            if (!sent.counts_against_caps || sent.at <= now - cap.per) continue;
            if (cap.channel == "*" || model_.channel_of(sent.program, sent.action) == channel)
                ++used;
        }
        if (used >= cap.max)
            return cap.channel + " " + std::to_string(cap.max) + " per " +
                   std::to_string(cap.per / 1000) + "s reached";
    }
    return std::nullopt;
}

void PressureLedger::forget_old_sends(CustomerLedger& customer, TimeMs now) const {
    auto& sends = customer.sends;
    auto keep = std::find_if(sends.begin(), sends.end(),
                             [&](const Contact& c) { return c.at > now - longest_cap_; });
    sends.erase(sends.begin(), keep);
}

}  // namespace journeyd

#include "state/journey/model_alignment.hpp"

#include <unordered_map>

namespace journeyd {
namespace {

// The running entries first, each replaced by the new one of its name or else retired, then the
// new entries the running model lacks. `moved[i]`: where next's entry i ended up.
template <class Entry, class Retire>
std::vector<Entry> aligned(std::vector<Entry>& next, const std::vector<Entry>& running,
                           std::vector<uint16_t>& moved, Retire retire) {
    std::unordered_map<std::string, size_t> index_in_next;
    for (size_t i = 0; i < next.size(); ++i) index_in_next.emplace(next[i].name, i);
    std::vector<Entry> out;
    out.reserve(running.size() + next.size());
    moved.assign(next.size(), 0);
    std::vector<bool> placed(next.size(), false);
    for (const Entry& old : running) {
        auto found = index_in_next.find(old.name);
        if (found == index_in_next.end()) {
            Entry gone = old;
            retire(gone);
            out.push_back(std::move(gone));
            continue;
        }
        moved[found->second] = static_cast<uint16_t>(out.size());
        placed[found->second] = true;
        out.push_back(std::move(next[found->second]));
    }
    for (size_t i = 0; i < next.size(); ++i) {
        if (placed[i]) continue;
        moved[i] = static_cast<uint16_t>(out.size());
        out.push_back(std::move(next[i]));
    }
    return out;
}

}  // namespace

JourneyModel align_ids(JourneyModel next, const JourneyModel& running) {
    std::vector<uint16_t> action_moved;
    std::vector<uint16_t> program_moved;
    next.actions = aligned(next.actions, running.actions, action_moved, [](Action& action) {
        action.retired = true;
        action.when = Condition{};
    });
    next.programs = aligned(next.programs, running.programs, program_moved, [](Program& program) {
        program.retired = true;
        program.on_enter.reset();
        program.on_event.clear();
        program.on_segment_enter.reset();
        program.on_segment_exit.reset();
        program.when = Condition{};
        program.candidates.clear();
    });
    for (Program& program : next.programs)
        if (!program.retired)
            for (ActionId& candidate : program.candidates) candidate = action_moved[candidate];
    return next;
}

}  // namespace journeyd

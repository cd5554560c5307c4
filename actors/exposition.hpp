// The Prometheus text exposition format (version 0.0.4) that GET /metrics answers, written in
// one place so that every family follows its rules: `# HELP` and `# TYPE` once, before the
// family's samples; HELP text and label values escaped. Label values include stage names,
// which the configuration allows to hold any character, quotes and newlines included.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

namespace journeyd {

struct Label {
    std::string_view name;   // a valid label name, written as given
    std::string_view value;  // any text, escaped
};

class ExpositionWriter {
  public:
    enum class Type { counter, gauge, histogram };

    // Starts a family: the samples written until the next family() are its. Throws
    // std::logic_error for a name announced before (the format allows one block per family),
    // as sample() does before any family().
    void family(std::string_view name, Type type, std::string_view help);

    // A sample of the current family, named after it plus `suffix` (a histogram's "_bucket",
    // "_sum" and "_count").
    void sample(uint64_t value, std::initializer_list<Label> labels = {},
                std::string_view suffix = {});
    void sample(int64_t value, std::initializer_list<Label> labels = {},
                std::string_view suffix = {});
    void sample(double value, std::initializer_list<Label> labels = {},
                std::string_view suffix = {});

    const std::string& text() const { return text_; }

    // A float as the format writes it: the fewest digits that read back as `value`, without an
    // exponent unless that would be long ("0.00025", "2.5", "10"); NaN, +Inf and -Inf.
    static std::string number(double value);

  private:
    void write_sample(std::string_view suffix, std::initializer_list<Label> labels,
                      std::string_view value);

    std::string text_;
    std::string family_;
    std::set<std::string, std::less<>> announced_;
};

}  // namespace journeyd

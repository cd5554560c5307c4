#include "actors/exposition.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace journeyd {
namespace {

std::string_view type_name(ExpositionWriter::Type type) {
    switch (type) {
        case ExpositionWriter::Type::counter:
            return "counter";
        case ExpositionWriter::Type::gauge:
            return "gauge";
        case ExpositionWriter::Type::histogram:
            return "histogram";
    }
    return "untyped";
}

// HELP text escapes backslash and newline; label values, in quotes, also the double quote.
void append_escaped(std::string& out, std::string_view text, bool in_quotes) {
    for (char c : text) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && in_quotes)
            out += "\\\"";
        else
            out += c;
    }
}

}  // namespace

void ExpositionWriter::family(std::string_view name, Type type, std::string_view help) {
    if (!announced_.emplace(name).second)
        throw std::logic_error("metric family " + std::string(name) + " written twice");
    family_ = name;
    text_ += "# HELP ";
    text_ += name;
    text_ += ' ';
    append_escaped(text_, help, false);
    text_ += "\n# TYPE ";
    text_ += name;
    text_ += ' ';
    text_ += type_name(type);
    text_ += '\n';
}

void ExpositionWriter::sample(uint64_t value, std::initializer_list<Label> labels,
                              std::string_view suffix) {
    write_sample(suffix, labels, std::to_string(value));
}

void ExpositionWriter::sample(int64_t value, std::initializer_list<Label> labels,
                              std::string_view suffix) {
    write_sample(suffix, labels, std::to_string(value));
}

void ExpositionWriter::sample(double value, std::initializer_list<Label> labels,
                              std::string_view suffix) {
    write_sample(suffix, labels, number(value));
}

std::string ExpositionWriter::number(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    char text[64];
    auto [end, error] = std::to_chars(text, text + sizeof text, value, std::chars_format::fixed);
    if (error != std::errc())  // tens of digits: let the shortest form take an exponent
        end = std::to_chars(text, text + sizeof text, value).ptr;
    return std::string(text, end);
}

void ExpositionWriter::write_sample(std::string_view suffix, std::initializer_list<Label> labels,
                                    std::string_view value) {
    if (family_.empty()) throw std::logic_error("metric sample written before its family");
    text_ += family_;
    text_ += suffix;
    if (labels.size() > 0) {
        char separator = '{';
        for (const Label& label : labels) {
            text_ += separator;
            text_ += label.name;
            text_ += "=\"";
            append_escaped(text_, label.value, true);
            text_ += '"';
            separator = ',';
        }
        text_ += '}';
    }
    text_ += ' ';
    text_ += value;
    text_ += '\n';
}

}  // namespace journeyd

// `backstep report`'s output formats.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "report/crash_report.h"

namespace backstep::report {

enum class Format { kText, kMarkdown, kHtml, kJson };

// "text", "md" (or "markdown"), "html", "json".
std::optional<Format> parse_format(std::string_view name);

// The schema is docs/report-schema.md.
nlohmann::json to_json(const CrashReport& report);

// `colour` only affects text: ANSI colours for a terminal.
std::string render(const CrashReport& report, Format format, bool colour);

}  // namespace backstep::report

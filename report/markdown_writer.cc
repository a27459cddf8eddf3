// Markdown to paste into an issue.
#include <fmt/core.h>

#include "report/document.h"

namespace backstep::report {
namespace {

class MarkdownWriter : public DocumentWriter {
 public:
  void title(const std::string& text) override { out_ += "# " + escape(text) + "\n\n"; }
  void verdict(const std::string& text, bool) override { out_ += "**" + escape(text) + "**\n"; }
  void heading(const std::string& text) override { out_ += "\n## " + escape(text) + "\n\n"; }
  void subheading(const std::string& text) override { out_ += "\n### " + escape(text) + "\n\n"; }
  void paragraph(const std::string& text) override { out_ += escape(text) + "\n"; }
  void field(const std::string& label, const std::string& value) override {
    out_ += fmt::format("- **{}:** {}\n", label, code_span(value));
  }
  void code(const std::vector<CodeLine>& lines) override {
    out_ += "```\n";
    for (const auto& l : lines) out_ += l.text + "\n";
    out_ += "```\n";
  }
  void bullets(const std::vector<std::string>& items) override {
    for (const auto& i : items) out_ += "- " + escape(i) + "\n";
  }
  void timeline(const CrashReport&) override {}
  std::string finish() override { return std::move(out_); }

 private:
  // Outside code: `<` would open an HTML tag (std::atomic<...>), `*`
  // emphasis (`_` inside words, as in file names, is literal in GFM).
  static std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
      if (c == '<' || c == '*') out += '\\';
      out += c;
    }
    return out;
  }

  // Values hold `*`, `_`, `<...>` (C++ templates): code spans keep them
  // literal. A value with a backtick is left as it is.
  static std::string code_span(const std::string& v) {
    if (v.find('`') != std::string::npos) return v;
    return "`" + v + "`";
  }

  std::string out_;
};

}  // namespace

std::unique_ptr<DocumentWriter> markdown_writer() { return std::make_unique<MarkdownWriter>(); }

}  // namespace backstep::report

// Plain text, or ANSI-coloured text for a terminal.
#include <fmt/core.h>

#include "report/document.h"

namespace backstep::report {
namespace {

class TextWriter : public DocumentWriter {
 public:
  explicit TextWriter(bool colour) : colour_(colour) {}

  void title(const std::string& text) override { out_ += paint("1", text) + "\n"; }
  void verdict(const std::string& text, bool failure) override {
    out_ += paint(failure ? "1;31" : "1;32", text) + "\n";
  }
  void heading(const std::string& text) override { out_ += "\n" + paint("1;36", text) + "\n"; }
  void subheading(const std::string& text) override { out_ += "\n" + paint("1", text) + "\n"; }
  void paragraph(const std::string& text) override { out_ += wrap(text, "") + "\n"; }
  void field(const std::string& label, const std::string& value) override {
    // Padded before painting: escape codes would count in the width.
    out_ += fmt::format("  {}{}\n", paint("2", fmt::format("{:<16}", label + ":")), value);
  }
  void code(const std::vector<CodeLine>& lines) override {
    for (const auto& l : lines)
      out_ += "    " + (l.highlight ? paint("1;33", l.text) : l.text) + "\n";
  }
  void bullets(const std::vector<std::string>& items) override {
    for (const auto& i : items) out_ += wrap(i, "  - ") + "\n";
  }
  void timeline(const CrashReport&) override {}
  std::string finish() override { return std::move(out_); }

 private:
  std::string paint(const char* sgr, const std::string& text) const {
    return colour_ ? fmt::format("\x1b[{}m{}\x1b[0m", sgr, text) : text;
  }

  // Wraps at 80 columns; continuation lines are indented like the first's
  // text.
  static std::string wrap(const std::string& text, const std::string& first) {
    constexpr size_t kWidth = 80;
    std::string indent(first.size(), ' ');
    std::string out = first;
    size_t col = first.size();
    size_t i = 0;
    while (i < text.size()) {
      size_t j = text.find(' ', i);
      if (j == std::string::npos) j = text.size();
      std::string word = text.substr(i, j - i);
      if (col > indent.size() && col + 1 + word.size() > kWidth) {
        out += "\n" + indent;
        col = indent.size();
      } else if (col > indent.size()) {
        out += ' ';
        ++col;
      }
      out += word;
      col += word.size();
      i = j + 1;
    }
    return out;
  }

  bool colour_;
  std::string out_;
};

}  // namespace

std::unique_ptr<DocumentWriter> text_writer(bool colour) {
  return std::make_unique<TextWriter>(colour);
}

}  // namespace backstep::report

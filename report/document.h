// The report's content is laid out once (render_document) against this
// small vocabulary of blocks; each output format is one DocumentWriter. That
// keeps text, Markdown and HTML saying the same things in the same order.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "report/crash_report.h"

namespace backstep::report {

struct CodeLine {
  std::string text;
  bool highlight = false;  // the line the report is about
};

class DocumentWriter {
 public:
  virtual ~DocumentWriter() = default;
  virtual void title(const std::string& text) = 0;
  // The one-line verdict under the title.
  virtual void verdict(const std::string& text, bool failure) = 0;
  virtual void heading(const std::string& text) = 0;
  virtual void subheading(const std::string& text) = 0;
  virtual void paragraph(const std::string& text) = 0;
  virtual void field(const std::string& label, const std::string& value) = 0;
  virtual void code(const std::vector<CodeLine>& lines) = 0;
  virtual void bullets(const std::vector<std::string>& items) = 0;
  // The picture of the threads; only the HTML writer draws it.
  virtual void timeline(const CrashReport& report) = 0;
  virtual std::string finish() = 0;
};

std::unique_ptr<DocumentWriter> text_writer(bool colour);
std::unique_ptr<DocumentWriter> markdown_writer();
std::unique_ptr<DocumentWriter> html_writer();

// "Where the bad value came from": the dataflow behind a fault or a failed
// check (dataflow_section.cc); nothing when the report has none.
void dataflow_section(const CrashReport& report, DocumentWriter& w);

// Writes the whole report through `w`.
void render_document(const CrashReport& report, DocumentWriter& w);

}  // namespace backstep::report

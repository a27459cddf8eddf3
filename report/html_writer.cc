// One self-contained HTML file: inline CSS and SVG, no script, nothing
// loaded from anywhere, so that it can be attached to a bug report and
// opened offline.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "report/document.h"

namespace backstep::report {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

constexpr const char* kStyle = R"(
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; }
h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
.verdict { font-weight: bold; padding: .6em; border-radius: 4px; }
.failure { background: #fde8e8; color: #a00; }
.normal { background: #e6f5e6; color: #060; }
dl { display: grid; grid-template-columns: 12em 1fr; gap: .2em 1em; }
dt { color: #666; }
dd { margin: 0; font-family: monospace; word-break: break-all; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; }
pre mark { background: #ffe9a8; display: inline-block; width: 100%; }
svg text { font-family: sans-serif; font-size: 11px; }
.legend span { display: inline-block; margin-right: 1.2em; font-size: .85em; }
.legend i { display: inline-block; width: 1.4em; height: .8em; margin-right: .3em; }
)";

// Where things go in a lane, in pixels.
constexpr double kLabelWidth = 90;
constexpr double kPlotWidth = 1000;
constexpr double kLaneHeight = 44;
constexpr double kTop = 20;

class Svg {
 public:
  Svg(const Timeline& t, double from, double to, const std::string& id)
      : t_(t), from_(from), to_(std::max(to, from + 1)), id_(id) {}

  std::string draw() {
    double height = kTop + kLaneHeight * static_cast<double>(t_.lanes.size()) + 24;
    std::string out = fmt::format(
        "<svg id=\"{}\" class=\"timeline\" width=\"{}\" "
        "height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\">\n",
        id_, kLabelWidth + kPlotWidth + 10, height, kLabelWidth + kPlotWidth + 10, height);
    out += fmt::format(
        "<defs><marker id=\"{}-head\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
        "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 "
        "L10,5 L0,10 z\" fill=\"#c00\"/></marker></defs>\n",
        id_);
    out += fmt::format("<text x=\"{}\" y=\"12\">record {:.0f}</text>", kLabelWidth, from_);
    out += fmt::format("<text x=\"{}\" y=\"12\" text-anchor=\"end\">record {:.0f}</text>\n",
                       kLabelWidth + kPlotWidth, to_);
    for (size_t i = 0; i < t_.lanes.size(); ++i) out += lane(t_.lanes[i], i);
    out += panic_and_arrow();
    out += "</svg>\n";
    return out;
  }

 private:
  double x(double at) const { return kLabelWidth + (at - from_) / (to_ - from_) * kPlotWidth; }
  double lane_y(size_t i) const { return kTop + kLaneHeight * static_cast<double>(i); }
  size_t lane_index(int32_t tid) const {
    for (size_t i = 0; i < t_.lanes.size(); ++i) {
      if (t_.lanes[i].tid == tid) return i;
    }
    return 0;
  }
  bool visible(double at) const { return at >= from_ && at <= to_; }

  // Intervals clipped to the window and merged when they touch at this
  // scale, so that a long recording stays a small picture.
  std::string bars(const std::vector<Interval>& intervals, double y, double h, const char* fill,
                   const char* cls, const char* title) const {
    std::vector<std::pair<double, double>> px;
    for (const auto& iv : intervals) {
      if (iv.end < from_ || iv.begin > to_) continue;
      double a = x(std::max(iv.begin, from_));
      double b = std::max(x(std::min(iv.end, to_)), a + 1);
      if (!px.empty() && a <= px.back().second + 0.5) {
        px.back().second = std::max(px.back().second, b);
      } else {
        px.emplace_back(a, b);
      }
    }
    std::string out;
    for (const auto& [a, b] : px) {
      out += fmt::format(
          "<rect class=\"{}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
          "fill=\"{}\"><title>{}</title></rect>",
          cls, a, y, b - a, h, fill, title);
    }
    return out;
  }

  std::string lane(const Lane& l, size_t i) const {
    double y = lane_y(i);
    std::string out = fmt::format("<g class=\"lane\" data-tid=\"{}\">", l.tid);
    out += fmt::format("<text x=\"4\" y=\"{:.1f}\">thread {}</text>", y + 20, l.tid);
    out += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>",
                       kLabelWidth, kLabelWidth + kPlotWidth, y + 34, y + 34);
    out += bars(l.running, y + 6, 28, "#d8e4f0", "running", "running");
    out += bars(l.iterating, y + 22, 10, "#3a7bd5", "iterating", "iterator live");
    out += bars(l.writing, y + 8, 10, "#f08c00", "writing", "hashWriting held");
    int last_px = -1;
    for (const auto& s : l.syscalls) {
      if (!visible(s.at)) continue;
      int p = static_cast<int>(std::lround(x(s.at)));
      if (p == last_px) continue;  // one mark a pixel
      last_px = p;
      out += fmt::format(
          "<line class=\"syscall\" x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" "
          "stroke=\"#555\"><title>{}</title></line>",
          p, p, y + 34, y + 40, escape(s.label));
    }
    for (const auto& g : l.growth) {
      if (!visible(g.at)) continue;
      double gx = x(g.at);
      out += fmt::format(
          "<path class=\"growth\" d=\"M{0:.1f},{1:.1f} l5,-7 l-10,0 z\" fill=\"#2a9d3a\">"
          "<title>{2}</title></path>",
          gx, y + 6, escape(g.label));
    }
    out += "</g>\n";
    return out;
  }

  std::string panic_and_arrow() const {
    std::string out;
    if (t_.panic && visible(t_.panic->at)) {
      double px = x(t_.panic->at);
      double y = lane_y(lane_index(t_.panic_tid));
      out += fmt::format(
          "<g id=\"{0}-panic\" class=\"panic\"><path d=\"M{1:.1f},{2:.1f} l8,8 m0,-8 l-8,8\" "
          "stroke=\"#c00\" stroke-width=\"3\" transform=\"translate(-4,0)\"/>"
          "<text x=\"{3:.1f}\" y=\"{4:.1f}\" fill=\"#c00\" text-anchor=\"end\">{5}</text>"
          "<title>{5}</title></g>\n",
          id_, px, y + 16, px - 8, y + 14, escape(t_.panic->label));
    }
    if (t_.arrow && visible(t_.arrow->to)) {
      const Arrow& a = *t_.arrow;
      double x1 = x(std::max(a.from, from_));
      double y1 = lane_y(lane_index(a.from_tid)) + 13;
      double x2 = x(a.to);
      double y2 = lane_y(lane_index(a.to_tid)) + 20;
      out += fmt::format(
          "<path class=\"cause\" d=\"M{:.1f},{:.1f} C{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}\" "
          "fill=\"none\" stroke=\"#c00\" stroke-width=\"1.5\" marker-end=\"url(#{}-head)\">"
          "<title>hashWriting set by thread {} seen by the check of thread {}</title></path>\n",
          x1, y1, x1 + 20, (y1 + y2) / 2, x2 - 20, (y1 + y2) / 2, x2, y2, id_, a.from_tid,
          a.to_tid);
    }
    return out;
  }

  const Timeline& t_;
  double from_, to_;
  std::string id_;
};

class HtmlWriter : public DocumentWriter {
 public:
  void title(const std::string& text) override {
    head_ = fmt::format(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        // The browser itself refuses any request the page might make.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">\n"
        "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(text), kStyle, escape(text));
  }
  void verdict(const std::string& text, bool failure) override {
    close_list();
    body_ += fmt::format("<p class=\"verdict {}\">{}</p>\n", failure ? "failure" : "normal",
                         escape(text));
  }
  void heading(const std::string& text) override {
    close_list();
    body_ += fmt::format("<h2>{}</h2>\n", escape(text));
  }
  void subheading(const std::string& text) override {
    close_list();
    body_ += fmt::format("<h3>{}</h3>\n", escape(text));
  }
  void paragraph(const std::string& text) override {
    close_list();
    body_ += fmt::format("<p>{}</p>\n", escape(text));
  }
  void field(const std::string& label, const std::string& value) override {
    if (!in_list_) body_ += "<dl>\n";
    in_list_ = true;
    body_ += fmt::format("<dt>{}</dt><dd>{}</dd>\n", escape(label), escape(value));
  }
  void code(const std::vector<CodeLine>& lines) override {
    close_list();
    body_ += "<pre>";
    for (const auto& l : lines) {
      body_ += l.highlight ? "<mark>" + escape(l.text) + "</mark>\n" : escape(l.text) + "\n";
    }
    body_ += "</pre>\n";
  }
  void bullets(const std::vector<std::string>& items) override {
    close_list();
    body_ += "<ul>\n";
    for (const auto& i : items) body_ += "<li>" + escape(i) + "</li>\n";
    body_ += "</ul>\n";
  }
  void timeline(const CrashReport& r) override {
    close_list();
    const Timeline& t = r.timeline;
    body_ += "<h2>Timeline</h2>\n";
    body_ +=
        "<p class=\"legend\"><span><i style=\"background:#d8e4f0\"></i>running</span>"
        "<span><i style=\"background:#f08c00\"></i>hashWriting held</span>"
        "<span><i style=\"background:#3a7bd5\"></i>iterating</span>"
        "<span><i style=\"background:#2a9d3a\"></i>growth start/finish</span>"
        "<span><i style=\"background:#555;height:2px\"></i>syscall</span>"
        "<span><i style=\"background:#c00;height:2px\"></i>flag set &#8594; check that saw "
        "it</span></p>\n";
    body_ +=
        "<p>One lane per thread; the axis is the recording's order of events (record "
        "indexes), there is no wall clock in a trace.</p>\n";
    body_ += Svg(t, t.begin, t.end, "timeline").draw();
    // The moments before the end, where the conflict happened.
    double from = t.begin;
    if (!r.recent.empty()) from = static_cast<double>(r.recent.front().record);
    if (t.arrow) from = std::min(from, t.arrow->from);
    from = std::max(t.begin, from - (t.end - from) * 0.05 - 1);
    if (from > t.begin) {
      body_ += fmt::format("<h3>The last moments (records {:.0f} to {:.0f})</h3>\n", from, t.end);
      body_ += Svg(t, from, t.end, "timeline-end").draw();
    }
  }
  std::string finish() override {
    close_list();
    return head_ + body_ + "</body>\n</html>\n";
  }

 private:
  void close_list() {
    if (in_list_) body_ += "</dl>\n";
    in_list_ = false;
  }

  std::string head_;
  std::string body_;
  bool in_list_ = false;
};

}  // namespace

std::unique_ptr<DocumentWriter> html_writer() { return std::make_unique<HtmlWriter>(); }

}  // namespace backstep::report

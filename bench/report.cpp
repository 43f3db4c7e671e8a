// report.cpp - the table on stdout, the JSON file and the SVG chart.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <tuple>

#include "harness.hpp"

namespace bench {
namespace {

std::string fmt(double v) {
  char buf[32];
  const double a = std::fabs(v);
  if (a >= 1000)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 100)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else if (a >= 10)
    std::snprintf(buf, sizeof buf, "%.2f", v);
  else
    std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

std::string fmt_ratio(const std::optional<double>& r) {
  if (!r) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", *r);
  return buf;
}

// Rows grouped by workload and parameters (in the order they were run), time
// and throughput before system-call counts, implementations in run order.
std::vector<const measurement*> display_order(const results& r) {
  std::vector<std::string> workloads, groups, units, impls;
  for (const impl* im : all_impls()) impls.push_back(im->name);
  auto index = [](std::vector<std::string>& v, const std::string& s) {
    auto it = std::find(v.begin(), v.end(), s);
    if (it != v.end()) return static_cast<std::size_t>(it - v.begin());
    v.push_back(s);
    return v.size() - 1;
  };
  struct keyed {
    std::size_t w, g, u, i;
    const measurement* m;
  };
  std::vector<keyed> rows;
  for (const measurement& m : r.rows()) {
    const bool counts = is_count_unit(m.unit);
    rows.push_back({index(workloads, m.workload), index(groups, m.workload + '\n' + m.params),
                    index(units, m.unit) + (counts ? 1000 : 0), index(impls, m.impl), &m});
  }
  // Implementations in build order, raw epoll first.
  std::stable_sort(rows.begin(), rows.end(), [](const keyed& a, const keyed& b) {
    return std::tie(a.w, a.g, a.u, a.i) < std::tie(b.w, b.g, b.u, b.i);
  });
  std::vector<const measurement*> out;
  for (const keyed& k : rows) out.push_back(k.m);
  return out;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\t':
        o += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          o += buf;
        } else {
          o += c;
        }
    }
  }
  return o;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

// The ring workloads get one row per implementation, the deterministic
// counts next to the times.
bool pivoted(const std::string& workload) {
  return workload == "dispatch" || workload == "oneshot" || workload == "oneshot4";
}

void print_cells(const std::vector<std::string>& head,
                 const std::vector<std::vector<std::string>>& cells,
                 const std::vector<bool>& group_start, std::size_t left_cols) {
  std::vector<std::size_t> w(head.size());
  for (std::size_t c = 0; c < head.size(); ++c) {
    w[c] = head[c].size();
    for (const auto& row : cells) w[c] = std::max(w[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string s;
    for (std::size_t c = 0; c < row.size(); ++c) {
      std::string pad(w[c] - row[c].size(), ' ');
      s += c >= left_cols ? pad + row[c] : row[c] + pad;
      if (c + 1 < row.size()) s += "  ";
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    std::puts(s.c_str());
  };
  std::size_t total = 2 * (w.size() - 1);
  for (std::size_t x : w) total += x;
  const std::string rule(total, '-');
  std::puts(rule.c_str());
  line(head);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (group_start[i]) std::puts(rule.c_str());
    line(cells[i]);
  }
  std::puts(rule.c_str());
}

void print_ring_table(const results& r) {
  struct column {
    const char* unit;
    const char* head;
  };
  const column cols[] = {
      {"ns/event", "ns/event"},
      {"time/epoll (paired)", "paired time/epoll [q1 q3]"},
      {"kernel entries/event", "kernel entries/ev"},
      {"epoll changes/event", "epoll changes/ev"},
      {"io_uring submits/event", "io_uring submits/ev"},
      {"Ir/event (callgrind)", "Ir/ev"},
      {"Ir/event - epoll", "Ir/ev - epoll"},
  };
  std::vector<std::string> groups, impls;
  for (const impl* im : all_impls()) impls.push_back(im->name);
  std::map<std::pair<std::string, std::string>, std::map<std::string, const measurement*>> at;
  bool used[std::size(cols)] = {};
  for (const measurement& m : r.rows()) {
    if (!pivoted(m.workload)) continue;
    const std::string g = m.workload + '\n' + m.params;
    if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
    at[{g, m.impl}][m.unit] = &m;
    for (std::size_t c = 0; c < std::size(cols); ++c) used[c] |= m.unit == cols[c].unit;
  }
  if (groups.empty()) return;
  std::vector<std::string> head{"workload", "params", "impl"};
  for (std::size_t c = 0; c < std::size(cols); ++c) {
    if (!used[c]) continue;
    head.push_back(cols[c].head);
    if (c == 0) {
      head.push_back("min");
      head.push_back("max");
      head.push_back("vs epoll");
    }
  }
  std::vector<std::vector<std::string>> cells;
  std::vector<bool> group_start;
  for (const std::string& g : groups) {
    const std::string workload = g.substr(0, g.find('\n')), params = g.substr(g.find('\n') + 1);
    bool first = true;
    for (const std::string& name : impls) {
      auto it = at.find({g, name});
      if (it == at.end()) continue;
      std::vector<std::string> row{workload, params, name};
      for (std::size_t c = 0; c < std::size(cols); ++c) {
        if (!used[c]) continue;
        auto u = it->second.find(cols[c].unit);
        const measurement* m = u == it->second.end() ? nullptr : u->second;
        if (c == 0) {
          row.push_back(m ? fmt(m->median()) : "-");
          row.push_back(m ? fmt(m->min()) : "-");
          row.push_back(m ? fmt(m->max()) : "-");
          row.push_back(m ? fmt_ratio(r.ratio(*m)) : "-");
        } else if (c == 1) {
          char buf[64] = "-";
          if (m)
            std::snprintf(buf, sizeof buf, "%.3f [%.3f %.3f]", m->median(), m->quantile(0.25),
                          m->quantile(0.75));
          row.push_back(buf);
        } else if (c == 6 && m) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%+.1f", m->median());
          row.push_back(buf);
        } else {
          row.push_back(m ? fmt(m->median()) : "-");
        }
      }
      cells.push_back(row);
      group_start.push_back(first);
      first = false;
    }
  }
  std::puts(
      "\nring workloads: time (median, min, max over the rounds) and, per event, the counts "
      "of an untimed pass");
  print_cells(head, cells, group_start, 3);
}

}  // namespace

void print_table(const results& r, const options& o) {
  print_ring_table(r);
  const char* head[] = {"workload", "params", "impl", "median", "min", "max", "unit", "vs epoll"};
  std::vector<std::vector<std::string>> cells;
  std::vector<bool> group_start;
  std::string last_group;
  for (const measurement* m : display_order(r)) {
    if (pivoted(m->workload)) continue;
    cells.push_back({m->workload, m->params, m->impl, fmt(m->median()), fmt(m->min()),
                     fmt(m->max()), m->unit, fmt_ratio(r.ratio(*m))});
    const std::string g = m->workload + '\n' + m->params + '\n' + m->unit;
    group_start.push_back(g != last_group);
    last_group = g;
  }
  std::size_t w[8];
  for (int c = 0; c < 8; ++c) {
    w[c] = std::string(head[c]).size();
    for (const auto& row : cells) w[c] = std::max(w[c], row[static_cast<std::size_t>(c)].size());
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string s;
    for (int c = 0; c < 8; ++c) {
      const std::string& v = row[static_cast<std::size_t>(c)];
      const bool right = c >= 3 && c != 6;
      std::string pad(w[c] - v.size(), ' ');
      s += right ? pad + v : v + pad;
      if (c < 7) s += "  ";
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    std::puts(s.c_str());
  };
  std::size_t total = 14;
  for (std::size_t x : w) total += x;
  const std::string rule(total, '-');

  if (!cells.empty()) {
    std::printf("\npsn-bench: %d round%s, interleaved; median, min and max over the rounds\n",
                o.rounds, o.rounds == 1 ? "" : "s");
    std::puts(
        "vs epoll = cost relative to raw epoll measured in the same run (>1 = slower or "
        "bigger; for MB/s it is epoll/impl)");
    std::puts(rule.c_str());
    line({head, head + 8});
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (group_start[i]) std::puts(rule.c_str());
      line(cells[i]);
    }
    std::puts(rule.c_str());
  }
  if (!r.skips().empty()) {
    std::puts("\nleft out:");
    for (const skipped& s : r.skips())
      std::printf("  %s [%s] %s: %s\n", s.workload.c_str(), s.params.c_str(), s.impl.c_str(),
                  s.reason.c_str());
  }
  if (!r.notes().empty()) {
    std::puts("\nnotes:");
    for (const std::string& n : r.notes()) std::printf("  - %s\n", n.c_str());
  }
}

bool write_json(const results& r, const options& o, const std::string& path) {
  std::ofstream f(path);
  if (!f) return false;
  f << "{\n  \"tool\": \"psn-bench\",\n  \"rounds\": " << o.rounds
    << ",\n  \"quick\": " << (o.quick ? "true" : "false")
    << ",\n  \"large\": " << (o.large ? "true" : "false") << ",\n  \"fd_limit\": " << o.fd_limit
    << ",\n  \"ratio\": \"cost relative to raw epoll in the same run (>1 = worse)\""
    << ",\n  \"measurements\": [";
  bool first = true;
  for (const measurement* m : display_order(r)) {
    f << (first ? "\n" : ",\n") << "    {\"workload\": \"" << json_escape(m->workload)
      << "\", \"parameters\": \"" << json_escape(m->params) << "\", \"implementation\": \""
      << json_escape(m->impl) << "\", \"median\": " << json_number(m->median())
      << ", \"q1\": " << json_number(m->quantile(0.25))
      << ", \"q3\": " << json_number(m->quantile(0.75)) << ", \"min\": " << json_number(m->min())
      << ", \"max\": " << json_number(m->max()) << ", \"unit\": \"" << json_escape(m->unit)
      << "\", \"higher_is_better\": " << (m->dir == better::higher ? "true" : "false")
      << ", \"ratio_to_epoll\": ";
    auto q = r.ratio(*m);
    f << (q ? json_number(*q) : "null") << ", \"samples\": [";
    for (std::size_t i = 0; i < m->samples.size(); ++i)
      f << (i ? ", " : "") << json_number(m->samples[i]);
    f << "]}";
    first = false;
  }
  f << "\n  ],\n  \"left_out\": [";
  first = true;
  for (const skipped& s : r.skips()) {
    f << (first ? "\n" : ",\n") << "    {\"workload\": \"" << json_escape(s.workload)
      << "\", \"parameters\": \"" << json_escape(s.params) << "\", \"implementation\": \""
      << json_escape(s.impl) << "\", \"reason\": \"" << json_escape(s.reason) << "\"}";
    first = false;
  }
  f << "\n  ],\n  \"notes\": [";
  first = true;
  for (const std::string& n : r.notes()) {
    f << (first ? "\n" : ",\n") << "    \"" << json_escape(n) << "\"";
    first = false;
  }
  f << "\n  ]\n}\n";
  return static_cast<bool>(f);
}

bool write_svg(const results& r, const std::string& path) {
  // One bar per measurement with a ratio, grouped by workload, parameters and
  // unit, on a log2 scale centred on raw epoll (1.0, dashed): bars to the
  // right cost more than raw epoll, to the left less. Bars past the ends of
  // the scale are clipped and say so.
  struct bar {
    std::string impl;
    double ratio;
  };
  struct group {
    std::string title;
    std::vector<bar> bars;
  };
  std::vector<group> groups;
  double top = 4, bottom = 0.5;
  for (const measurement* m : display_order(r)) {
    auto q = r.ratio(*m);
    if (!q) continue;
    const std::string title = m->workload + "  " + m->params + "  [" + m->unit + "]";
    if (groups.empty() || groups.back().title != title) groups.push_back({title, {}});
    groups.back().bars.push_back({m->impl, *q});
    top = std::max(top, *q);
    bottom = std::min(bottom, *q);
  }
  const double hi = std::min(std::ceil(std::log2(top)), 7.0);       // up to 128x
  const double lo = std::max(std::floor(std::log2(bottom)), -3.0);  // down to 1/8
  const int label_w = 120, plot_w = 600, bar_h = 14, gap = 4, head_h = 22, margin = 12;
  const int width = margin * 2 + label_w + plot_w + 80;
  auto x_of = [&](double v) {
    const double l = std::clamp(std::log2(v), lo, hi);
    return margin + label_w + (l - lo) / (hi - lo) * plot_w;
  };

  std::ostringstream s;
  int y = 40;
  const int plot_top = y;
  std::ostringstream body;
  for (const group& g : groups) {
    y += head_h;
    body << "<text x=\"" << margin << "\" y=\"" << y - 6 << "\" font-weight=\"bold\">"
         << xml_escape(g.title) << "</text>\n";
    for (const bar& b : g.bars) {
      const char* color = b.impl == "epoll"             ? "#888888"
                          : b.impl.rfind("psn", 0) == 0 ? "#d62728"
                                                        : "#1f77b4";
      const double x1 = x_of(1), xv = x_of(b.ratio);
      body << "<text x=\"" << margin + label_w - 6 << "\" y=\"" << y + bar_h - 3
           << "\" text-anchor=\"end\">" << xml_escape(b.impl) << "</text>\n"
           << "<rect x=\"" << std::min(x1, xv) << "\" y=\"" << y << "\" width=\""
           << std::max(std::fabs(xv - x1), 1.0) << "\" height=\"" << bar_h << "\" fill=\"" << color
           << "\"/>\n";
      const bool clipped = std::log2(b.ratio) > hi || std::log2(b.ratio) < lo;
      char label[40];
      std::snprintf(label, sizeof label, "%.2f%s", b.ratio, clipped ? " (clipped)" : "");
      body << "<text x=\"" << std::max(x1, xv) + 4 << "\" y=\"" << y + bar_h - 3 << "\">" << label
           << "</text>\n";
      y += bar_h + gap;
    }
    y += 6;
  }
  const int height = y + 30;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << margin << "\" y=\"20\" font-size=\"14\" font-weight=\"bold\">"
    << "psn-bench: cost relative to raw epoll (log scale; 1 = raw epoll, right = worse)</text>\n";
  for (int t = static_cast<int>(lo); t <= static_cast<int>(hi); ++t) {
    const double v = std::ldexp(1.0, t);
    s << "<line x1=\"" << x_of(v) << "\" y1=\"" << plot_top << "\" x2=\"" << x_of(v) << "\" y2=\""
      << y << "\" stroke=\"#dddddd\"/>\n"
      << "<text x=\"" << x_of(v) << "\" y=\"" << y + 14 << "\" text-anchor=\"middle\">"
      << (t >= 0 ? std::to_string(1 << t) : "1/" + std::to_string(1 << -t)) << "</text>\n";
  }
  s << body.str();
  s << "<line x1=\"" << x_of(1) << "\" y1=\"" << plot_top << "\" x2=\"" << x_of(1) << "\" y2=\""
    << y << "\" stroke=\"black\" stroke-dasharray=\"4,3\"/>\n";
  s << "</svg>\n";
  std::ofstream f(path);
  if (!f) return false;
  f << s.str();
  return static_cast<bool>(f);
}

}  // namespace bench
